"""Head office over HTTP: the feed stores pull, the reports they send, the
figures and the /hq page for the chain's administrators."""

from __future__ import annotations

import hashlib
import shutil
import tempfile

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from ..tiers import feed
from ..web import pages
from ..errors import Forbidden, NotFound, UnsupportedMediaType, ValidationError
from .office import HeadOffice
from ..tiers.lists import open_text
from ..web.endpoint import handle_error

MAX_UPLOAD = 2 << 30  # a tier CSV of tens of millions of customers

bp = Blueprint("hq", __name__, url_prefix="/hq/v1")
page_bp = Blueprint("hq_page", __name__)


def _office() -> HeadOffice:
    return current_app.extensions["posplugin.hq"]


def _caller(*roles) -> str:
    header = request.headers.get("Authorization", "")
    name, role = _office().caller(header[7:].strip() if header[:7].lower() == "bearer " else None)
    if role not in roles:
        raise Forbidden(f"this needs one of the roles {', '.join(roles)}")
    return name


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(text)


@bp.get("/feed/manifest.json")
def manifest():
    name = _caller("store", "admin")
    version = request.headers.get(feed.LIST_VERSION_HEADER, "")
    body = _office().signed_manifest()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    _office().record_sync(name, int(version) if version.isdigit() else None)
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, content_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@bp.get("/feed/<name>")
def feed_file(name: str):
    _caller("store", "admin")
    path = _office().feed_dir / name
    if "/" in name or name.startswith(".") or not name.endswith(".tsv") or not path.is_file():
        raise NotFound(f"no feed file {name}")
    return send_file(path, mimetype="text/tab-separated-values", conditional=True, etag=True)


@bp.post("/reports")
def reports():
    name = _caller("store")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("send the report as a JSON object")
    accepted = _office().receive_report(name, body.get("batch"), body.get("hours"))
    return jsonify({"accepted": accepted})


@bp.get("/stores")
def stores():
    _caller("admin")
    days = _int_arg("days", 7, 1, 90)
    return jsonify({"stores": _office().stores(days), "days": days, "latest": _office().latest(),
                    "versions": _office().versions(), "stale_after_s": _office().stale_after_s})


@bp.get("/chart")
def chart():
    _caller("admin")
    figure = request.args.get("figure", "prompts_made")
    return jsonify(_office().outcomes.series(figure, _int_arg("days", 14, 1, 90), _office().store_names()))


@bp.post("/imports")
def imports():
    """A tier CSV as the request body (the /hq page's upload)."""
    _caller("admin")
    kind = (request.mimetype or "").lower()
    if kind not in ("text/csv", "application/octet-stream", "text/plain", ""):
        raise UnsupportedMediaType("send the tier list as text/csv")
    # Streamed to disk first: a chain's list can be far larger than memory allows.
    with tempfile.NamedTemporaryFile(dir=_office().data_dir, prefix="upload-", suffix=".csv") as upload:
        shutil.copyfileobj(request.stream, upload, 1 << 20)
        upload.flush()
        with open_text(upload.name) as stream:
            return jsonify(_office().import_csv(stream))


@page_bp.get("/hq")
def hq_page():
    return pages.page("hq.html")


@page_bp.get("/static/<path:name>")
def static_file(name: str):
    return pages.static_file(name)


def create_hq_app(office: HeadOffice, *, language: str = "en") -> Flask:
    """The head office service around ``office``."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    app.config["POSPLUGIN_LANGUAGE"] = language
    app.json.sort_keys = False
    app.extensions["posplugin.hq"] = office
    app.register_blueprint(bp)
    app.register_blueprint(page_bp)
    app.register_error_handler(Exception, handle_error)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
