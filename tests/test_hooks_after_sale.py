"""Square and Shopify after-sale webhooks over HTTP: signatures, replays, and
amplify prompts for the floor (never a till prompt)."""

import json

import pytest
import requests

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
    store.flush()
    return [tuple(r) for r in store.db.execute("SELECT stage, known, sale_total FROM visits ORDER BY id")]


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
