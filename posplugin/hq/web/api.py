"""Head office's routes for stores and administrators: the feed stores pull,
the reports they send, the figures, and the /hq page."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import tempfile

from flask import Blueprint, Response, current_app, g, jsonify, redirect, request, send_file

from ...errors import NotFound, UnsupportedMediaType, ValidationError
from ...tiers import feed
from ...tiers.csvfile import open_csv
from ...timeutil import whole_number
from ...web import openapi, pages
from ...web.endpoint import ApiBlueprint
from ..feedstore import IMMUTABLE
from ..figures import Figures
from ..office import HeadOffice
from ..stores import add_from_csv as stores_from_csv
from .schemas import SCHEMAS

DESCRIPTION = "Head office: the signed tier-list feed stores pull, their outcome reports, and figures."

# Head office's roles are separate: an admin token does not send a store's reports.
bp = ApiBlueprint("hq", __name__, url_prefix="/hq/v1", tag="head office", schemas=SCHEMAS)
page_bp = Blueprint("hq_page", __name__)
STORE, ADMIN, ANY = ("store",), ("admin",), ("store", "admin")
DAYS = {"name": "days", "in": "query", "required": False,
        "schema": {"type": "string", "pattern": "^[0-9]{1,2}$", "description": "1 to 90"}}


OFFICE = "posplugin.hq"


def _office() -> HeadOffice:
    return current_app.extensions[OFFICE]


def _figures() -> Figures:
    return _office().figures


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if whole_number(text) is None or not low <= int(text) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(text)


@bp.operation("GET", "/feed/manifest.json", summary="The signed manifest of the current tier list",
              roles=ANY, response_type="application/json")
def manifest():
    name = g.caller.name
    version = request.headers.get(feed.LIST_VERSION_HEADER, "")
    body = _office().signed_manifest()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    _office().record_sync(name, whole_number(version))
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, content_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@bp.operation("GET", "/feed/<name>", summary="A snapshot or delta body named in the manifest",
              roles=ANY, response_type="text/tab-separated-values",
              parameters=[{"name": "name", "in": "path", "required": True,
                           "schema": {"type": "string", "pattern": feed.BODY_NAME}}])
def feed_file(name: str):
    if not re.match(feed.BODY_NAME, name):  # a plain body name, never a path (nor 5,000 characters)
        raise NotFound(f"no feed file {name[:80]}")
    if _office().feed_base_url:
        # Bodies published to a bucket or static host: a store that does not
        # read the manifest's base_url is sent there (without its token).
        return redirect(_office().feed_base_url.rstrip("/") + "/" + name, code=302)
    found = _office().feed_body(name)
    if found is None:
        raise NotFound(f"no feed file {name}")
    path, immutable = found
    response = send_file(path, mimetype="text/tab-separated-values", conditional=True, etag=True)
    # A content-named body never changes; a version-named one (an earlier
    # release's, or asked for by that name) may, after a rebuild from scratch.
    response.headers["Cache-Control"] = IMMUTABLE if immutable else "no-cache"
    return response


@bp.operation("POST", "/reports", summary="A store's batch of hourly outcomes (counted once)",
              roles=STORE, body="OutcomeReport", response="ReportAccepted", errors=(503,))
def reports(body):
    # Hours and the experiment's arms are counted in one transaction: the
    # answer says whether this store's batch is new, whatever it carries.
    accepted = _office().receive_report(g.caller.name, body["batch"], body["hours"], body.get("arms"))
    return jsonify({"accepted": accepted})


@bp.operation("GET", "/experiment", summary="The holdout experiment's uplift per level, chain and store",
              roles=ADMIN, parameters=[
                  {"name": "name", "in": "query", "required": False,
                   "schema": {"type": "string", "maxLength": 100},
                   "description": "an experiment's name (default: the running one, else the latest)"},
                  {"name": "detect", "in": "query", "required": False,
                   "schema": {"type": "string", "pattern": "^0?\\.[0-9]{1,4}$"},
                   "description": "the difference in rate to size the sample for (0.01 to 0.45; default 0.05)"}])
def experiment():
    detect = request.args.get("detect")
    try:
        detect_value = float(detect) if detect is not None else 0.05
    except ValueError:
        detect_value = -1.0
    # Below one half, a difference fits above or below any baseline rate.
    if not 0.01 <= detect_value <= 0.45:
        raise ValidationError("detect must be a rate difference from 0.01 to 0.45", field="detect")
    return jsonify(_office().experiments.results(request.args.get("name") or None, detect_value))


@bp.operation("GET", "/stores", summary="Each store's list version, last sync and figures",
              roles=ADMIN, parameters=[DAYS])
def stores():
    days = _int_arg("days", 7, 1, 90)
    rows, totals = _office().stores_and_totals(days)
    return jsonify({"stores": rows, "days": days, "latest": _office().latest(),
                    "versions": _office().versions(), "stale_after_s": _office().stale_after_s,
                    "totals": totals})


@bp.operation("POST", "/stores", summary="Add a chain's stores from a CSV (a name column): each gets its token, "
              "all or none; refused whole with line numbers", roles=ADMIN, errors=(413, 415))
def add_stores():
    kind = (request.mimetype or "").lower()
    if kind not in ("text/csv", "text/plain"):
        raise UnsupportedMediaType("send the stores as text/csv (a header row with a name column)")
    added = stores_from_csv(_office(), io.BytesIO(request.get_data(cache=False)))
    return jsonify({"added": len(added), "stores": [{"name": row.name, "token": token} for row, token in added]})


@bp.operation("GET", "/stores.csv", summary="The stores' table as CSV (the /hq page's export)",
              roles=ADMIN, parameters=[DAYS], response_type="text/csv")
def stores_csv():
    days = _int_arg("days", 7, 1, 90)
    body = _figures().stores_csv(_office().stores(days))
    return Response(body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="posplugin-stores-{days}-days.csv"'})


@bp.operation("GET", "/chart", summary="A figure per day and store over the chosen days, or per hour of one day",
              roles=ADMIN,
              parameters=[DAYS, {"name": "figure", "in": "query", "required": False,
                                 "schema": {"type": "string", "maxLength": 64}},
                          {"name": "day", "in": "query", "required": False,
                           "schema": {"type": "string", "maxLength": 10,
                                      "description": "YYYY-MM-DD: that day hour by hour"}}])
def chart():
    figure = request.args.get("figure", "prompts_made")
    names = _office().store_names()
    if request.args.get("day"):
        return jsonify(_figures().hourly(figure, _day_arg(), names))
    return jsonify(_figures().daily(figure, _int_arg("days", 14, 1, 90), names))


FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9999, 12, 30)


def _day_arg() -> str:
    """The ``day`` query value, a date whose hours every time zone can count
    (the last day of year 9999 has hours past any date)."""
    try:
        day = dt.date.fromisoformat(request.args["day"])
    except ValueError:
        raise ValidationError("day must be a date written YYYY-MM-DD", field="day") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"day must be from {FIRST_DAY} to {LAST_DAY}", field="day")
    return day.isoformat()


@bp.operation("POST", "/imports", summary="A tier CSV as the next version (the /hq page's upload)",
              roles=ADMIN, errors=(413, 415))
def imports():
    kind = (request.mimetype or "").lower()
    if kind not in ("text/csv", "application/octet-stream", "text/plain", ""):
        raise UnsupportedMediaType("send the tier list as text/csv")
    # Streamed to disk first: a chain's list can be far larger than memory allows.
    with tempfile.NamedTemporaryFile(dir=_office().data_dir, prefix="upload-", suffix=".csv") as upload:
        shutil.copyfileobj(request.stream, upload, 1 << 20)
        upload.flush()
        with open_csv(upload.name) as stream:
            return jsonify(_office().import_csv(stream))


@bp.operation("GET", "/openapi.json", summary="This document", roles=None)
def openapi_document():
    # Every head office blueprint: the customer's side registers its own.
    return jsonify(openapi.document(current_app.iter_blueprints(), title="posplugin head office API",
                                    description=DESCRIPTION))


@page_bp.get("/hq")
def hq_page():
    return pages.page("hq.html")



page_bp.add_url_rule("/static/<path:name>", view_func=pages.static_file)
page_bp.add_url_rule("/favicon.ico", view_func=pages.favicon)
