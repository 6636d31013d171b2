"""HTTP routes for queues and pain points: thin handlers over the store."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from .endpoint import endpoint, store

bp = Blueprint("queues", __name__, url_prefix="/api/v1")


def _api(method, path, **kw):
    return endpoint(bp, method, path, prefix="/api/v1", tag="queues", **kw)


@_api("POST", "/queue", summary="A queue length reading or a queue event for a lane",
      roles=("queue",), body="QueueInput", response="QueueAnswer")
def queue_input(body):
    lane = str(body["lane"])
    if "event" in body:
        return jsonify(store().queue_event(lane, body["event"]))
    return jsonify(store().queue_reading(lane, body["length"], body.get("at")))


@_api("GET", "/queues", summary="Every lane, the reach waiting, and how many tills to open",
      roles=("staff",), response="QueuesOverview")
def queues_overview():
    return jsonify(store().queues_overview())


@_api("POST", "/painpoints", summary="Report a pain point; it becomes a pain prompt",
      roles=("staff", "till"), body="PainpointRequest", response="Prompt")
def painpoint(body):
    lane = body.get("lane")
    by = body.get("by") or g.caller.name
    return jsonify(store().report_painpoint(body["kind"], None if lane is None else str(lane),
                                            body.get("note"), by))


@_api("GET", "/queues/today", summary="Today's lengths per lane beside the normal band, for charts",
      roles=("staff",), response="QueuesToday")
def queues_today():
    return jsonify(store().queues.today())
