"""Qminder ticket webhooks → queue events for the line, and identification
while queueing.

Qminder signs each request with ``X-Qminder-Signature``: the hex HMAC-SHA256,
under the account's webhook secret, of the registered webhook URL followed by
the body. Settings: ``qminder_secret``, ``qminder_webhook_url`` (exactly as
registered) and optionally ``qminder_lines`` (``"37338=1, 37339=2"``: Qminder
line id = posplugin lane; by default the line id is the lane).

ticket_created → ``join`` (and, with a phone number, identify with
``"stage": "queue"``); ticket_called → ``served`` (the customer leaves the queue
for a desk); ticket_cancelled → ``leave``. A replayed (type, ticket id) is
dropped.
"""

from posplugin.hookspecs import hookimpl
from posplugin.webhooks import (
    hmac_sha256_hex,
    identify_waiting,
    json_payload,
    lane_map,
    part,
    require_signature,
)

EVENTS = {"ticket_created": "join", "ticket_called": "served", "ticket_cancelled": "leave"}


def ticket(store, request):
    settings = store.settings.extra
    require_signature(settings.get("qminder_secret"),
                      settings.get("qminder_webhook_url", "").encode() + request.get_data(),
                      request.headers.get("X-Qminder-Signature"), vendor="Qminder", digest=hmac_sha256_hex)
    payload = json_payload(request)
    kind, data = payload.get("type"), part(payload, "data")
    event = EVENTS.get(kind)
    if event is None or "line" not in data:
        return {"ok": True, "ignored": kind}
    if not store.first_delivery("qminder", f"{kind}:{data.get('id')}"):
        return {"ok": True, "duplicate": True}
    lane = lane_map(settings.get("qminder_lines")).get(str(data["line"]), str(data["line"]))
    answer = {"ok": True, "queue": store.queues.event(lane, event)}
    phone = data.get("phoneNumber")
    if kind == "ticket_created" and phone:
        # Qminder sends the number in international form without the plus sign.
        answer["known"] = identify_waiting(store, lane, f"+{phone}", data.get("firstName"))
    return answer


@hookimpl
def register_routes():
    return [("POST", "/qminder/tickets", ticket)]
