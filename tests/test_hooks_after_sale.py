"""Square and Shopify after-sale webhooks over HTTP: signatures, replays, and
amplify prompts for the floor (never a till prompt)."""

import json

import pytest
import requests
from servers import JsonStandIn

from posplugin.webhooks import hmac_sha256_base64

SQUARE_KEY = "square-signature-key"
SQUARE_URL = "https://store.example/hooks/square/payments"
SHOPIFY_SECRET = "shopify-client-secret"


PLUGINS = "square, shopify"  # the conftest fixture `hooked` serves a store with these
PLUGIN_SETTINGS = {
    "square_signature_key": SQUARE_KEY, "square_notification_url": SQUARE_URL,
    "shopify_secret": SHOPIFY_SECRET}


def square_event(event_id="evt-1", email="Micro.Mia@example.com", status="COMPLETED", money=None):
    # Field names as in Square's payment.updated notification.
    payment = {"id": "P1", "status": status, "buyer_email_address": email, "location_id": "L1"}
    if money:
        payment["amount_money"] = money
    return {"merchant_id": "M1", "type": "payment.updated", "event_id": event_id,
            "created_at": "2026-11-23T10:00:00Z",
            "data": {"type": "payment", "id": "P1", "object": {"payment": payment}}}


def post_square(server, event, key=SQUARE_KEY):
    body = json.dumps(event).encode()
    signature = hmac_sha256_base64(key, SQUARE_URL.encode() + body)
    return requests.post(server.url + "/hooks/square/payments", data=body, timeout=5, headers={
        "Content-Type": "application/json", "x-square-hmacsha256-signature": signature})


def test_square_completed_payment_of_an_influencer_makes_an_amplify_prompt(hooked):
    server, store = hooked
    answer = post_square(server, square_event())
    assert answer.status_code == 200
    prompt = store.list_prompts()[0]
    assert answer.json()["prompt"] == prompt["id"]
    assert prompt["kind"] == "amplify" and prompt["lane"] is None
    assert "share" in prompt["body"] and "45,000 followers" in prompt["body"]
    assert store.list_prompts(status="open") and all(p["kind"] != "service" for p in store.list_prompts())


def test_square_replay_is_dropped(hooked):
    server, store = hooked
    post_square(server, square_event("evt-9"))
    again = post_square(server, square_event("evt-9"))
    assert again.json() == {"ok": True, "duplicate": True}
    assert len(store.list_prompts()) == 1


@pytest.mark.parametrize("event", [square_event(email="stranger@example.com"),
                                   square_event(status="APPROVED")])
def test_square_nothing_for_unknown_customers_or_unfinished_payments(hooked, event):
    server, store = hooked
    assert post_square(server, event).json() == {"ok": True, "prompt": None}
    assert store.list_prompts() == []


@pytest.mark.parametrize("headers", [{}, {"x-square-hmacsha256-signature": "bm9wZQ=="}])
def test_square_bad_or_missing_signature_is_401_and_changes_nothing(hooked, headers):
    server, store = hooked
    response = requests.post(server.url + "/hooks/square/payments", json=square_event(), timeout=5,
                             headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert store.list_prompts() == []
    # Not even the event id was used up: the real delivery still works.
    assert post_square(server, square_event()).json()["prompt"] is not None


def post_shopify(server, order, webhook_id="wh-1", secret=SHOPIFY_SECRET):
    body = json.dumps(order).encode()
    return requests.post(server.url + "/hooks/shopify/orders", data=body, timeout=5, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": hmac_sha256_base64(secret, body), "X-Shopify-Webhook-Id": webhook_id})


SHOPIFY_ORDER = {"id": 820982911946154508, "email": None, "phone": "+47 412 34 567",
                 "customer": {"id": 115310627314723954, "first_name": "Sam", "email": None}}


def test_shopify_order_of_an_influencer(hooked):
    server, store = hooked
    answer = post_shopify(server, SHOPIFY_ORDER)
    assert answer.status_code == 200 and answer.json()["prompt"]
    prompt = store.list_prompts()[0]
    assert prompt["kind"] == "amplify" and prompt["title"] == "After the sale: invite Sam to share"
    assert post_shopify(server, SHOPIFY_ORDER).json()["duplicate"] is True


def test_shopify_wrong_secret_is_401(hooked):
    server, store = hooked
    response = post_shopify(server, SHOPIFY_ORDER, secret="not-the-secret")
    assert response.status_code == 401 and store.list_prompts() == []


def test_unconfigured_adapter_refuses_everything(plugin_server):
    server, _ = plugin_server(plugins="square")
    response = post_square(server, square_event())
    assert response.status_code == 401 and "no signing secret" in response.json()["error"]["message"]


def test_square_events_without_an_event_id_are_each_their_own(hooked):
    """Two different signed events, neither with an event_id: both are new."""
    server, store = hooked
    first, second = square_event(event_id=None), square_event(event_id=None, email="other@example.com")
    assert "duplicate" not in post_square(server, first).json()
    assert "duplicate" not in post_square(server, second).json()
    assert post_square(server, first).json()["duplicate"] is True  # the same body again is a replay


def test_shopify_orders_without_ids_are_each_their_own(hooked):
    server, store = hooked
    body = json.dumps({**SHOPIFY_ORDER, "id": None}).encode()
    other = json.dumps({**SHOPIFY_ORDER, "id": None, "phone": "+47 400 00 000"}).encode()
    answers = [requests.post(server.url + "/hooks/shopify/orders", data=b, timeout=5, headers={
        "Content-Type": "application/json", "X-Shopify-Hmac-Sha256": hmac_sha256_base64(SHOPIFY_SECRET, b)})
        for b in (body, other)]
    assert all(a.status_code == 200 and "duplicate" not in a.json() for a in answers)


def test_dedupe_keys_never_hold_a_phone_number_or_email(plugin_server):
    """Lightspeed's customer without an id used to be kept as "sale:+47 987 65 432"."""
    server, store = plugin_server(plugins="lightspeed", extra={"lightspeed_secret": "s"})
    payload = {"event_type": "sale.customer.changed", "sale": {"id": "S-a716db", "register_id": "r1"},
               "customer": {"first_name": "Mia", "email": "micro.mia@example.com", "phone": "+47 412 34 567"}}
    requests.post(server.url + "/hooks/lightspeed/rules", params={"secret": "s"}, json=payload, timeout=5)
    keys = [r[0] for r in store.db.execute("SELECT event_id FROM hook_events")]
    assert keys and not any("@" in k or "+47" in k or "4123" in k for k in keys)


# Square's RetrieveCustomer answer as Square documents it, and its error shape.
SQUARE_CUSTOMER = {"customer": {
    "id": "TNQC0TYTWMRSFFQ157KK4V7MVR", "created_at": "2020-04-27T17:28:50.073Z",
    "updated_at": "2020-05-27T04:43:53Z", "given_name": "Sam", "family_name": "Lee",
    "email_address": "sam.lee@example.com", "phone_number": "+47 412 34 567",
    "preferences": {"email_unsubscribed": False}, "creation_source": "THIRD_PARTY",
    "segment_ids": [], "version": 1}}
SQUARE_NOT_FOUND = {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND"}]}


def fake_square(status=200, delay=0.0) -> JsonStandIn:
    """A local stand-in for Square's Customers API (GET /v2/customers/{id})."""
    return JsonStandIn(SQUARE_CUSTOMER if status == 200 else SQUARE_NOT_FOUND, status, delay)


def card_present(event_id="evt-card"):
    event = square_event(event_id=event_id, email=None)
    payment = event["data"]["object"]["payment"]
    del payment["buyer_email_address"]
    payment["customer_id"] = "TNQC0TYTWMRSFFQ157KK4V7MVR"
    return event


def wait_for(predicate, seconds=5.0):
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_square_card_present_payment_looks_the_customer_up(plugin_server):
    square = fake_square()
    server, store = plugin_server(plugins="square", extra={
        "square_signature_key": SQUARE_KEY, "square_notification_url": SQUARE_URL,
        "square_access_token": "EAAA-test", "square_api_url": square.url})
    answer = post_square(server, card_present())
    assert answer.status_code == 200 and answer.json()["lookup"] == "customer"
    assert wait_for(lambda: store.list_prompts())
    assert store.list_prompts()[0]["kind"] == "amplify" and "Sam" in store.list_prompts()[0]["title"]
    path, headers = square.requests[0]
    assert path == "/v2/customers/TNQC0TYTWMRSFFQ157KK4V7MVR"
    assert headers["Authorization"] == "Bearer EAAA-test" and headers["Square-Version"]


@pytest.mark.parametrize("status,delay", [(404, 0.0), pytest.param(200, 4.0, marks=pytest.mark.slow)],
                         ids=["not found", "too slow"])
def test_square_lookup_fails_open(plugin_server, status, delay):
    import time
    square = fake_square(status, delay)
    server, store = plugin_server(plugins="square", extra={
        "square_signature_key": SQUARE_KEY, "square_notification_url": SQUARE_URL,
        "square_access_token": "EAAA-test", "square_api_url": square.url})
    started = time.monotonic()
    assert post_square(server, card_present()).status_code == 200
    assert time.monotonic() - started < 1  # the webhook never waits for Square
    time.sleep(0.5 if status != 200 else 3.5)
    assert store.list_prompts() == []


def test_square_prompt_names_buyer_lane_and_expiry(plugin_server):
    server, store = plugin_server(plugins="square", extra={
        "square_signature_key": SQUARE_KEY, "square_notification_url": SQUARE_URL,
        "square_devices": "DEV-7=3"}, amplify_expire_minutes=20)
    event = square_event()
    event["data"]["object"]["payment"].update(
        billing_address={"first_name": "Mia", "last_name": "M"},
        device_details={"device_id": "DEV-7", "device_name": "Counter by the door"})
    post_square(server, event)
    prompt = store.list_prompts()[0]
    assert prompt["lane"] == "3" and prompt["display_name"] == "Mia"
    assert prompt["title"] == "After the sale: invite Mia to share"
    from posplugin.timeutil import parse_iso
    assert parse_iso(prompt["expires_at"]) - parse_iso(prompt["created_at"]) == 20 * 60
    other = square_event("evt-2")
    other["data"]["object"]["payment"]["device_details"] = {"device_id": "X", "device_name": "Café"}
    post_square(server, other)
    assert store.list_prompts()[0].get("place") == "Café" or any(
        p.get("place") == "Café" for p in store.list_prompts())


def test_untaken_after_sale_prompt_expires(hooked):
    server, store = hooked
    post_square(server, square_event())
    prompt = store.list_prompts()[0]
    from posplugin.timeutil import parse_iso
    real = store.clock
    store.clock = lambda: parse_iso(prompt["expires_at"]) + 1
    try:
        assert store.tick()["expired"] == 1
    finally:
        store.clock = real
    assert store.list_prompts(status="expired")[0]["id"] == prompt["id"]
def sales(store):
    return [(v.stage, v.known, v.sale_total) for v in store.visits.recorded()]


@pytest.mark.parametrize("money, email, expected", [
    ({"amount": 12950, "currency": "NOK"}, "Micro.Mia@example.com", [("sale", 1, 129.5)]),
    ({"amount": 1200, "currency": "JPY"}, "stranger@example.com", [("sale", 0, 1200.0)]),  # yen has no cents
    ({"amount": "12", "currency": "NOK"}, "Micro.Mia@example.com", []),
    (None, "Micro.Mia@example.com", []),
])
def test_a_square_payment_records_its_amount_for_the_experiment(hooked, money, email, expected):
    server, store = hooked
    assert post_square(server, square_event(email=email, money=money)).status_code == 200
    assert sales(store) == expected


def test_a_shopify_order_records_its_total_once(hooked):
    server, store = hooked
    post_shopify(server, {**SHOPIFY_ORDER, "email": "stranger@example.com", "total_price": "199.00"})
    assert sales(store) == [("sale", 0, 199.0)]
