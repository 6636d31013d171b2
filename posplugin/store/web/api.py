"""The store's HTTP API: thin handlers over :class:`posplugin.store.service.Store` (identify,
prompts, queues and pain points, health and metrics)."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request

from ...errors import ValidationError
from ...timeutil import parse_iso
from ...web import openapi
from ...web.endpoint import ApiBlueprint, gate, json_answer
from .. import prompts
from ..service import Store
from .metrics import CONTENT_TYPE, METRICS
from .schemas import LANE_QUERY, SCHEMAS

STORE = "posplugin.store"
bp = ApiBlueprint("api", __name__, url_prefix="/api/v1", schemas=SCHEMAS)
queues = ApiBlueprint("queues", __name__, url_prefix="/api/v1", tag="queues", schemas=SCHEMAS)
root = ApiBlueprint("root", __name__, tag="operations", schemas=SCHEMAS)

PROMPTS = ("staff", "till")


def store() -> Store:
    """The running app's :class:`~posplugin.store.service.Store`."""
    return current_app.extensions[STORE]

DESCRIPTION = ("Influence-aware service prompts at the till and queue pain points on the floor.")


@bp.operation("POST", "/identify", summary="A customer is at a lane: tier, service level and a prompt",
      roles=("till", "queue", "staff"), body="IdentifyRequest", response="IdentifyResponse")
def identify(body):
    ident = body["identifier"]
    result = store().identify(body["lane"], ident["type"], ident["value"],
                              stage=body.get("stage") or "till",
                              display_name=body.get("display_name"), sale_id=body.get("sale_id"),
                              sale_total=body.get("sale_total"))
    current_app.extensions[METRICS].identified(result.tier, result.service_level, result.known,
                                               result.prompt_created)
    return json_answer(result.to_json())


@bp.operation("GET", "/prompts", summary="Prompts, most urgent first", roles=PROMPTS, response="PromptList",
      parameters=[{"name": "status", "in": "query", "required": False,
                   "schema": {"enum": list(prompts.STATUSES)}},
                  {"name": "lane", "in": "query", "required": False, "schema": LANE_QUERY},
                  {"name": "since", "in": "query", "required": False,
                   "schema": {"type": "string", "format": "date-time", "maxLength": 64}}])
def list_prompts():
    since = request.args.get("since")
    try:
        since_ts = parse_iso(since) if since is not None else None
    except ValueError:
        raise ValidationError("since must be an ISO-8601 time with a zone", field="since") from None
    return jsonify({"prompts": store().list_prompts(status=request.args.get("status"),
                                                    lane=request.args.get("lane"), since=since_ts)})


@bp.operation("POST", "/prompts/<int:prompt_id>/ack", summary="Take a prompt (\"on it\")", roles=PROMPTS,
      body="AckRequest", response="Prompt", errors=(409,))
def ack_prompt(prompt_id, body):
    return jsonify(store().ack(prompt_id, body["by"]))


@bp.operation("POST", "/prompts/<int:prompt_id>/resolve", summary="Resolve a prompt", roles=PROMPTS,
      body="ResolveRequest", response="Prompt", errors=(409,))
def resolve_prompt(prompt_id, body):
    return jsonify(store().resolve(prompt_id, body["by"], body.get("note")))


@queues.operation("POST", "/queue", summary="A queue length reading or a queue event for a lane",
      roles=("queue",), body="QueueInput", response="QueueAnswer")
def queue_input(body):
    lane = body["lane"]  # the domain names it (lane_name): 3 and 3.0 are "3"
    if "event" in body:
        return json_answer(store().queues.event(lane, body["event"]))
    return json_answer(store().queues.reading(lane, body["length"], body.get("at")))


@queues.operation("GET", "/queues", summary="Every lane, the reach waiting, and how many tills to open",
      roles=("staff",), response="QueuesOverview")
def queues_overview():
    return jsonify(store().queues.overview())


@queues.operation("POST", "/painpoints", summary="Report a pain point; it becomes a pain prompt",
      roles=("staff", "till"), body="PainpointRequest", response="Prompt")
def painpoint(body):
    lane = body.get("lane")
    by = body.get("by") or g.caller.name
    return jsonify(store().report_painpoint(body["kind"], lane,
                                            body.get("note"), by))


@queues.operation("GET", "/queues/today", summary="Today's lengths per lane beside the normal band, for charts",
      roles=("staff",), response="QueuesToday")
def queues_today():
    return jsonify(store().queues.today())


@bp.operation("GET", "/openapi.json", summary="This document", roles=None)
def openapi_document():
    return jsonify(openapi.document(current_app.iter_blueprints(), title="posplugin store API",
                                    description=DESCRIPTION, superuser=gate().superuser))


@root.operation("GET", "/healthz", summary="Liveness and the tier list in use", roles=None,
                response="Health")
def healthz():
    tier_list = store().tier_list_health()
    faults = store().warnings()
    # The service answers either way; a warning says what a person should fix.
    return jsonify({"status": "degraded" if faults else "ok", "tier_list": tier_list,
                    "warnings": tier_list.pop("warnings") + faults})


@root.operation("GET", "/metrics", summary="Prometheus metrics", roles=("admin",),
                response_type="text/plain")
def metrics():
    return Response(current_app.extensions[METRICS].render(), content_type=CONTENT_TYPE)
