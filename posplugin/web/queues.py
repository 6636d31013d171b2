"""HTTP routes for queues and pain points: thin handlers over the store."""

from __future__ import annotations

from flask import g, jsonify

from .endpoint import ApiBlueprint, store

bp = ApiBlueprint("queues", __name__, url_prefix="/api/v1", tag="queues")


@bp.operation("POST", "/queue", summary="A queue length reading or a queue event for a lane",
      roles=("queue",), body="QueueInput", response="QueueAnswer")
def queue_input(body):
    lane = str(body["lane"])
    if "event" in body:
        return jsonify(store().queue_event(lane, body["event"]))
    return jsonify(store().queue_reading(lane, body["length"], body.get("at")))


@bp.operation("GET", "/queues", summary="Every lane, the reach waiting, and how many tills to open",
      roles=("staff",), response="QueuesOverview")
def queues_overview():
    return jsonify(store().queues_overview())


@bp.operation("POST", "/painpoints", summary="Report a pain point; it becomes a pain prompt",
      roles=("staff", "till"), body="PainpointRequest", response="Prompt")
def painpoint(body):
    lane = body.get("lane")
    by = body.get("by") or g.caller.name
    return jsonify(store().report_painpoint(body["kind"], None if lane is None else str(lane),
                                            body.get("note"), by))


@bp.operation("GET", "/queues/today", summary="Today's lengths per lane beside the normal band, for charts",
      roles=("staff",), response="QueuesToday")
def queues_today():
    return jsonify(store().queues_today())
