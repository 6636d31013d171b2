"""Waitwhile visit webhooks over HTTP: queue events, identification in the
queue, signatures and replays (payloads shaped like Waitwhile's webhook
examples)."""

import json

import pytest
import requests

from posplugin.webhooks import hmac_sha256_base64

SECRET = "waitwhile-endpoint-secret"
URL = "https://store.example/hooks/waitwhile/visits"
LOCATION, COUNTER = "P3HCgTiw7IjGhxM2qmjt", "9sxvHtjutXVfTZMNMzP9"


PLUGINS = "waitwhile"  # the conftest fixture `hooked` serves a store with these
PLUGIN_SETTINGS = {
    "waitwhile_secret": SECRET, "waitwhile_webhook_url": URL,
    "waitwhile_locations": f"{LOCATION}=1", "waitwhile_resources": f"{COUNTER}=2"}


def event(kind, state, visit_id="Kk1BeidF0N4p8wzp2J0x", event_id=None, phone="+4741234567",
          resource=COUNTER, tags=(), waitlisted=True, notes=""):
    data = {"id": visit_id, "locationId": LOCATION, "state": state, "firstName": "Jane", "lastName": "Eyre",
            "phone": phone, "notes": notes, "resourceIds": [resource] if resource else [],
            "tags": list(tags), "waitlistTime": "2026-11-23T10:15:24.638Z" if waitlisted else None,
            "serveTime": None, "completedTime": None, "position": 1, "ticket": "A001"}
    return {"id": event_id or f"{kind}-{state}-{visit_id}-{notes}", "created": "2026-11-23T10:15:24.923Z",
            "accountId": "itiDKblwIsbJsAxO8kFz", "type": kind, "data": data}


def post(server, payload, secret=SECRET):
    body = json.dumps(payload).encode()
    return requests.post(server.url + "/hooks/waitwhile/visits", data=body, timeout=5, headers={
        "Content-Type": "application/json",
        "X-Waitwhile-Signature": hmac_sha256_base64(secret, URL.encode() + body)})


def length(store, lane="2"):
    lanes = {row["lane"]: row for row in store.queues.overview()["lanes"]}
    return lanes[lane]["length"] if lane in lanes else 0


def test_visit_lifecycle_moves_the_queue_and_counts_waiting_reach(hooked):
    server, store = hooked
    created = post(server, event("visit.created", "WAITING")).json()
    assert created["queue"]["lane"] == "2" and created["queue"]["length"] == 1 and created["known"] is True
    assert store.queues.overview()["waiting_reach"] == 260
    # Another change to a waiting visit (notes, position) does not join it again.
    assert post(server, event("visit.updated", "WAITING", notes="window seat")).json() == {
        "ok": True, "unchanged": True}
    post(server, event("visit.created", "WAITING", "second", phone=""))
    assert length(store) == 2
    served = post(server, event("visit.updated", "SERVING")).json()
    assert served["queue"]["length"] == 1 and store.queues.overview()["waiting_reach"] == 0
    # Completing a visit that was already served changes nothing.
    assert post(server, event("visit.updated", "COMPLETE")).json() == {"ok": True, "unchanged": True}
    left = post(server, event("visit.updated", "COMPLETE", "second", tags=["NO-SHOW"])).json()
    assert left["queue"]["length"] == 0


def test_lane_from_location_when_no_resource_is_mapped_and_removed_visits_leave(hooked):
    server, store = hooked
    assert post(server, event("visit.created", "WAITING", resource=None)).json()["queue"]["lane"] == "1"
    assert post(server, event("visit.removed", "WAITING", resource=None)).json()["queue"]["length"] == 0


def test_bad_phone_still_joins(hooked):
    server, store = hooked
    answer = post(server, event("visit.created", "WAITING", phone="not a number")).json()
    assert answer["queue"]["length"] == 1 and answer["known"] is False


def test_replays_bookings_and_other_events(hooked):
    server, store = hooked
    post(server, event("visit.created", "WAITING", event_id="evt-1"))
    assert post(server, event("visit.created", "WAITING", event_id="evt-1")).json() == {
        "ok": True, "duplicate": True}
    assert post(server, event("visit.created", "BOOKED", "booking")).json() == {
        "ok": True, "ignored": "visit.created BOOKED"}
    # A booking cancelled before it ever reached the waitlist never joined.
    assert post(server, event("visit.updated", "COMPLETE", "booking", tags=["CANCELLED"],
                              waitlisted=False)).json() == {"ok": True, "ignored": "not on the waitlist"}
    status = {"id": "ls-1", "type": "location-status.updated", "data": {"id": LOCATION, "numWaiting": 4}}
    assert post(server, status).json() == {"ok": True, "ignored": "location-status.updated"}
    assert length(store) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_or_missing_signature_is_401(hooked, secret):
    server, store = hooked
    if secret:
        response = post(server, event("visit.created", "WAITING"), secret=secret)
    else:
        response = requests.post(server.url + "/hooks/waitwhile/visits", json=event("visit.created", "WAITING"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert store.queues.overview()["lanes"] == []


def test_without_a_secret_nothing_is_accepted(plugin_server):
    server, store = plugin_server(plugins="waitwhile", extra={"waitwhile_webhook_url": URL})
    response = post(server, event("visit.created", "WAITING"))
    assert response.status_code == 401 and "no signing secret" in response.json()["error"]["message"]
