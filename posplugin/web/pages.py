"""Serving the pages: plain HTML, CSS and JavaScript from static/, with a
strict Content-Security-Policy. Each service's web room declares its own page
routes (the store's /till and /floor, head office's /hq, /join and /me); the
pages talk to the API with the token the device was paired with, or the
customer's session."""

from __future__ import annotations

import mimetypes

from flask import Response, abort, current_app

from ..resources import static_dir

# Everything from this origin only; no inline script or style, so data shown on
# a page can never run as code. Only the cashier's card may be framed (it sits
# in an iframe inside a web POS), and only by the origins in cors_origins;
# every other page refuses to be framed, so no site can clickjack /floor or /hq.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors {ancestors}")


def page(name: str, ancestors: str = "'none'", folder=None) -> Response:
    """A file from static/ (or ``folder``), with the page headers (and the page
    language filled in); ``ancestors`` are the origins that may frame it."""
    folder = folder or static_dir()
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        abort(404)
    body = path.read_bytes()
    if name.endswith(".html"):
        language = current_app.config.get("POSPLUGIN_LANGUAGE", "en")
        body = body.replace(b"{{lang}}", language.encode())
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".webmanifest"):
        kind = "application/manifest+json"
    if name.endswith(".md"):
        kind = "text/markdown"
    response = Response(body, content_type=kind + ("; charset=utf-8" if kind.startswith("text") or
                                                   kind.endswith(("javascript", "json")) else ""))
    response.headers["Content-Security-Policy"] = CSP.format(ancestors=ancestors)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token lives in the URL fragment
    response.headers["Cache-Control"] = "no-cache"
    return response


def static_file(name: str) -> Response:
    """Scripts, styles, icons and message catalogues of the pages."""
    if name.startswith(("_", ".")) or name.endswith(".py"):
        abort(404)
    return page(name)


def favicon() -> Response:
    """``/favicon.ico``: browsers ask for it whatever a page says; the pages' own icon."""
    return page("icon.svg")
