"""The staff pages: the cashier's card (/till), the floor tablet (/floor), an
index at / linking them and the documentation (/docs/*.md), and their static
files."""

from __future__ import annotations

from flask import Blueprint, abort, current_app

from ...resources import docs_dir
from ...web.pages import favicon, page, static_file

bp = Blueprint("pages", __name__)
PAGES = {"till": "till.html", "floor": "floor.html", "index": "index.html"}


def frame_ancestors(cors_origins: str) -> str:
    """The CSP frame-ancestors sources of the till card for the ``cors_origins`` setting."""
    origins = [o.strip() for o in (cors_origins or "").split(",") if o.strip()]
    if "*" in origins:
        return "*"
    return " ".join(["'self'"] + origins)


@bp.get("/")
def index():
    """A small index: the pages and the documentation."""
    return page(PAGES["index"])


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


bp.add_url_rule("/static/<path:name>", view_func=static_file)
bp.add_url_rule("/favicon.ico", view_func=favicon)
