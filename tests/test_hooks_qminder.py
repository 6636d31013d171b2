"""Qminder ticket webhooks over HTTP: queue events, identification in the
queue, signatures and replays (payloads as in Qminder's documentation)."""

import json

import pytest
import requests

from posplugin.webhooks import hmac_sha256_hex

SECRET = "qminder-webhook-secret"
URL = "https://store.example/hooks/qminder/tickets"


PLUGINS = "qminder"  # the conftest fixture `hooked` serves a store with these
PLUGIN_SETTINGS = {
    "qminder_secret": SECRET, "qminder_webhook_url": URL, "qminder_lines": "37338=2"}


def ticket(kind, ticket_id="123456789", phone=4741234567, line=37338):
    data = {"id": ticket_id, "status": "NEW", "source": "MANUAL", "line": line, "firstName": "Jane",
            "lastName": "Eyre", "created": {"date": "2026-11-23T10:15:24Z"}}
    if phone:
        data["phoneNumber"] = phone
    return {"type": kind, "data": data}


def post(server, payload, secret=SECRET):
    body = json.dumps(payload).encode()
    return requests.post(server.url + "/hooks/qminder/tickets", data=body, timeout=5, headers={
        "Content-Type": "application/json", "X-Qminder-Signature": hmac_sha256_hex(secret, URL.encode() + body)})


def test_ticket_lifecycle_moves_the_queue_and_counts_waiting_reach(hooked):
    server, store = hooked
    created = post(server, ticket("ticket_created")).json()
    assert created["queue"]["lane"] == "2" and created["queue"]["length"] == 1 and created["known"] is True
    post(server, ticket("ticket_created", "2", phone=None))
    overview = store.queues.overview()
    assert overview["lanes"][0]["length"] == 2 and overview["waiting_reach"] == 260
    called = post(server, ticket("ticket_called")).json()
    assert called["queue"]["length"] == 1
    assert store.queues.overview()["waiting_reach"] == 0  # served: no longer waiting
    assert post(server, ticket("ticket_cancelled", "2")).json()["queue"]["length"] == 0


def test_replays_and_other_events(hooked):
    server, store = hooked
    post(server, ticket("ticket_created"))
    assert post(server, ticket("ticket_created")).json() == {"ok": True, "duplicate": True}
    assert post(server, ticket("ticket_changed")).json() == {"ok": True, "ignored": "ticket_changed"}
    assert store.queues.overview()["lanes"][0]["length"] == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_or_missing_signature_is_401(hooked, secret):
    server, store = hooked
    if secret:
        response = post(server, ticket("ticket_created"), secret=secret)
    else:
        response = requests.post(server.url + "/hooks/qminder/tickets", json=ticket("ticket_created"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert store.queues.overview()["lanes"] == []


def test_a_non_ascii_signature_is_401(hooked):
    server, _ = hooked
    answer = requests.post(server.url + "/hooks/qminder/tickets", data=b"{}", timeout=5,
                           headers={"Content-Type": "application/json", "X-Qminder-Signature": "ø" * 64})
    assert answer.status_code == 401


@pytest.mark.parametrize("payload", [{"type": "ticket_created", "data": "a string"},
                                     {"type": "ticket_created", "data": [1, 2]},
                                     ticket("ticket_created", line="x" * 5000)],
                         ids=["data a string", "data a list", "a 5000-character line"])
def test_signed_payloads_of_the_wrong_shape_are_4xx(hooked, payload):
    server, store = hooked
    answer = post(server, payload)
    assert 400 <= answer.status_code < 500 and answer.json()["error"]["code"] != "plugin_failed"
    assert all(len(l["lane"]) <= 32 for l in store.queues.overview()["lanes"])
