"""Waitwhile visit webhooks → queue events for the line, and identification
while queueing.

Waitwhile signs each request with ``X-Waitwhile-Signature``: the base64
HMAC-SHA256, under the webhook endpoint's secret, of the webhook URL followed
by the raw body (developers.waitwhile.com, "Webhooks"). Settings:
``waitwhile_secret``, ``waitwhile_webhook_url`` (exactly as registered) and
optionally ``waitwhile_resources`` and ``waitwhile_locations``
(``"9sxvHtjutXVfTZMNMzP9=2"``: a Waitwhile resource or location id =
posplugin lane). A visit's first mapped resource wins, then its location; by
default the location id is the lane.

Waitwhile sends ``visit.created``, ``visit.updated`` (any change: state, notes,
position...) and ``visit.removed`` (a visit deleted through the API; removing
one in the UI completes it with a tag instead), each as ``{"id", "type",
"data": VISIT}``. From the visit's ``state``:

* ``WAITING`` → ``join`` (and, with a phone number, identify with
  ``"stage": "queue"``), once per visit;
* ``SERVING`` → ``served``; ``COMPLETE`` straight from the waitlist →
  ``served``, or ``leave`` when a tag says cancelled, no-show, expired or
  removed; ``visit.removed`` → ``leave``. A visit leaves the line once, and
  only if it was on the waitlist (``waitlistTime``): a booking never joined;
* bookings (``BOOKED``, ``PENDING``, ``DRAFT``) and other event types are
  ignored.

A replayed event id is dropped. The exact tag strings are not spelled out in
Waitwhile's reference, so tags are matched loosely (``NO-SHOW``, ``NO_SHOW``...).
"""

from posplugin.hookspecs import hookimpl
from posplugin.webhooks import (
    hmac_sha256_base64,
    identify_waiting,
    json_payload,
    lane_map,
    require_signature,
)

VISIT_EVENTS = ("visit.created", "visit.updated", "visit.removed")
DROPPED = ("CANCEL", "NOSHOW", "EXPIRE", "REMOVE")


def _lane(settings, visit: dict) -> str | None:
    resources = lane_map(settings.get("waitwhile_resources"))
    for resource in visit.get("resourceIds") or []:
        if str(resource) in resources:
            return resources[str(resource)]
    location = visit.get("locationId")
    if not location:
        return None
    return lane_map(settings.get("waitwhile_locations")).get(str(location), str(location))


def _dropped(visit: dict) -> bool:
    tags = (str(tag).upper().replace("-", "").replace("_", "") for tag in visit.get("tags") or [])
    return any(word in tag for tag in tags for word in DROPPED)


def _event(kind: str, visit: dict) -> tuple[str, str] | None:
    """(posplugin event, once-per-visit key) for this visit event, or None."""
    state = visit.get("state")
    if kind == "visit.removed":
        return "leave", "out"
    if state == "WAITING":
        return "join", "in"
    if state == "SERVING":
        return "served", "out"
    if state == "COMPLETE":
        return ("leave" if _dropped(visit) else "served"), "out"
    return None


def visit(store, request):
    settings = store.settings.extra
    require_signature(settings.get("waitwhile_secret"),
                      settings.get("waitwhile_webhook_url", "").encode() + request.get_data(),
                      request.headers.get("X-Waitwhile-Signature"), vendor="Waitwhile",
                      digest=hmac_sha256_base64)
    payload = json_payload(request)
    kind, data = payload.get("type"), payload.get("data") or {}
    lane = _lane(settings, data) if kind in VISIT_EVENTS and data.get("id") else None
    event = _event(kind, data) if lane else None
    if event is None:
        return {"ok": True, "ignored": kind if kind not in VISIT_EVENTS else f"{kind} {data.get('state')}"}
    if not store.first_delivery("waitwhile", payload.get("id") or f"{kind}:{data['id']}:{data.get('updated')}"):
        return {"ok": True, "duplicate": True}
    name, once = event
    # visit.updated comes for any change (notes, position...): a visit joins
    # once and leaves once, and only leaves if it was on the waitlist.
    if once == "out" and not data.get("waitlistTime"):
        return {"ok": True, "ignored": "not on the waitlist"}
    if not store.first_delivery("waitwhile", f"visit:{data['id']}:{once}"):
        return {"ok": True, "unchanged": True}
    answer = {"ok": True, "queue": store.queues.event(lane, name)}
    phone = data.get("phone")
    if name == "join" and phone:
        answer["known"] = identify_waiting(store, lane, phone, data.get("firstName") or data.get("name") or None)
    return answer


@hookimpl
def register_routes():
    return [("POST", "/waitwhile/visits", visit)]
