"""The staff pages: the cashier's card (/till), the floor tablet (/floor), an
index at / linking them and the documentation (/docs/*.md), and their static files. Plain HTML, CSS and JavaScript from static/, served with a
strict Content-Security-Policy; the pages talk to the API with the token the
device was paired with."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, abort, current_app

from ..resources import docs_dir, static_dir

bp = Blueprint("pages", __name__)

# Everything from this origin only; no inline script or style, so data shown on
# a page can never run as code. Only the cashier's card may be framed (it sits
# in an iframe inside a web POS), and only by the origins in cors_origins;
# every other page refuses to be framed, so no site can clickjack /floor or /hq.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors {ancestors}")


def frame_ancestors(cors_origins: str) -> str:
    """The CSP frame-ancestors sources of the till card for the ``cors_origins`` setting."""
    origins = [o.strip() for o in (cors_origins or "").split(",") if o.strip()]
    if "*" in origins:
        return "*"
    return " ".join(["'self'"] + origins)


PAGES = {"till": "till.html", "floor": "floor.html", "index": "index.html"}


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


@bp.get("/")
def index():
    """A small index: the pages and the documentation."""
    return page(PAGES["index"])


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for it whatever the page says; the same icon as the pages' own.
    return page("icon.svg")


@bp.get("/docs/<name>")
def docs(name: str):
    """The documentation, as Markdown text."""
    if not name.endswith(".md") or name.startswith((".", "_")):
        abort(404)
    return page(name, folder=docs_dir())


@bp.get("/till")
def till():
    return page(PAGES["till"], current_app.config.get("POSPLUGIN_FRAME_ANCESTORS", "'self'"))


@bp.get("/floor")
def floor():
    return page(PAGES["floor"])


@bp.get("/sw.js")
def service_worker():
    # Served from the root so it may control /floor and /till.
    response = page("sw.js")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/static/<path:name>")
def static_file(name: str):
    """Scripts, styles, icons and message catalogues of the pages."""
    if name.startswith(("_", ".")) or name.endswith(".py"):
        abort(404)
    return page(name)
