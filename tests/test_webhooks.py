"""Every adapter's credential check over HTTP: the real signature (or shared
secret) with its last character changed, or cut short, is refused and changes
nothing; the real one is accepted. Plus the helpers in posplugin.webhooks."""

import json

import pytest
import requests

from posplugin.errors import Unauthorized
from posplugin.webhooks import (
    hmac_sha256_base64,
    hmac_sha256_hex,
    lane_map,
    require_secret,
    require_signature,
)

SECRETS = {"square_signature_key": "square-key", "square_notification_url": "https://s.example/hooks/square/payments",
           "shopify_secret": "shopify-secret", "qminder_secret": "qminder-secret",
           "qminder_webhook_url": "https://s.example/hooks/qminder/tickets", "qminder_lines": "7=2",
           "waitwhile_secret": "waitwhile-secret", "waitwhile_webhook_url": "https://s.example/hooks/waitwhile/visits",
           "waitwhile_locations": "LOC=1", "lightspeed_secret": "lightspeed-secret",
           "lightspeed_registers": "REG=3", "axis_token": "axis-token", "axis_regions": "region1=1"}


def square(cred=None):
    body = json.dumps({"type": "payment.updated", "event_id": "e1", "data": {"object": {"payment": {
        "id": "P1", "status": "COMPLETED", "buyer_email_address": "micro.mia@example.com"}}}}).encode()
    real = hmac_sha256_base64(SECRETS["square_signature_key"], SECRETS["square_notification_url"].encode() + body)
    return real, dict(path="/hooks/square/payments", data=body,
                      headers={"Content-Type": "application/json", "x-square-hmacsha256-signature": cred or real})


def shopify(cred=None):
    body = json.dumps({"id": 1, "phone": "+47 412 34 567", "customer": {"first_name": "Sam"}}).encode()
    real = hmac_sha256_base64(SECRETS["shopify_secret"], body)
    return real, dict(path="/hooks/shopify/orders", data=body, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "w1",
        "X-Shopify-Hmac-Sha256": cred or real})


def qminder(cred=None):
    body = json.dumps({"type": "ticket_created", "data": {"id": "1", "line": 7, "phoneNumber": 4741234567}}).encode()
    real = hmac_sha256_hex(SECRETS["qminder_secret"], SECRETS["qminder_webhook_url"].encode() + body)
    return real, dict(path="/hooks/qminder/tickets", data=body,
                      headers={"Content-Type": "application/json", "X-Qminder-Signature": cred or real})


def waitwhile(cred=None):
    body = json.dumps({"id": "ev1", "type": "visit.created", "data": {
        "id": "v1", "locationId": "LOC", "state": "WAITING", "phone": "+4741234567", "resourceIds": [],
        "waitlistTime": "2026-11-23T10:15:24.638Z"}}).encode()
    real = hmac_sha256_base64(SECRETS["waitwhile_secret"], SECRETS["waitwhile_webhook_url"].encode() + body)
    return real, dict(path="/hooks/waitwhile/visits", data=body,
                      headers={"Content-Type": "application/json", "X-Waitwhile-Signature": cred or real})


def lightspeed(cred=None):
    real = SECRETS["lightspeed_secret"]
    body = {"event_type": "sale.customer.changed", "sale": {"id": "s1", "register_id": "REG"},
            "customer": {"id": "c1", "email": "micro.mia@example.com", "phone": "", "mobile": ""}}
    return real, dict(path="/hooks/lightspeed/rules", params={"secret": cred or real}, json=body)


def axis(cred=None):
    real = SECRETS["axis_token"]
    body = {"serial": "S", "timestamp": "20261123101524", "region1name": "Till", "region1people": 4}
    return real, dict(path="/hooks/axis/counts", json=body, headers={"Authorization": f"Bearer {cred or real}"})


ADAPTERS = [square, shopify, qminder, waitwhile, lightspeed, axis]


PLUGINS = "square, shopify, qminder, waitwhile, lightspeed, axis_counter"
PLUGIN_SETTINGS = SECRETS


def send(server, request):
    path = request.pop("path")
    return requests.post(server.url + path, timeout=5, **request)


def changed_last(cred: str) -> str:
    return cred[:-1] + ("A" if cred[-1] != "A" else "B")


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_a_credential_off_by_its_last_character_or_cut_short_is_refused(hooked, adapter):
    server, store = hooked
    real, _ = adapter()
    prompts, lanes = len(store.list_prompts()), store.queues.overview()["lanes"]
    for wrong in (changed_last(real), real[:-1], real[: len(real) // 2]):
        response = send(server, adapter(wrong)[1])
        assert response.status_code == 401, (adapter.__name__, wrong)
        assert response.json()["error"]["code"] == "unauthorized"
    assert len(store.list_prompts()) == prompts and store.queues.overview()["lanes"] == lanes
    assert send(server, adapter()[1]).status_code == 200


@pytest.mark.parametrize("digest", [hmac_sha256_base64, hmac_sha256_hex])
def test_require_signature_takes_only_the_whole_signature(digest):
    real = digest("k", b"message")
    require_signature("k", b"message", real, vendor="V", digest=digest)
    require_signature("k", b"message", f"  {real}\n", vendor="V", digest=digest)
    for wrong in (changed_last(real), real[:-1], real[:8], real + "x", "", None):
        with pytest.raises(Unauthorized):
            require_signature("k", b"message", wrong, vendor="V", digest=digest)
    with pytest.raises(Unauthorized, match="no signing secret"):
        require_signature("", b"message", real, vendor="V", digest=digest)


def test_require_secret_takes_only_the_whole_secret():
    require_secret("s3cret", " s3cret ", vendor="V")
    for wrong in ("s3cre", "s3creT", "s3cret!", "", None):
        with pytest.raises(Unauthorized):
            require_secret("s3cret", wrong, vendor="V")
    with pytest.raises(Unauthorized, match="no secret configured"):
        require_secret(None, "s3cret", vendor="V")


def test_lane_map():
    assert lane_map(" 37338=1, 37339 = 2,junk,") == {"37338": "1", "37339": "2"}
    assert lane_map("ACCC:region1=kasse=1") == {"ACCC:region1": "kasse=1"}
    assert lane_map(None) == {}


def test_a_signed_body_that_is_not_a_json_object_is_422(hooked):
    server, _ = hooked
    for body in (b"not json", b"[1, 2]"):
        signature = hmac_sha256_base64(SECRETS["shopify_secret"], body)
        response = requests.post(server.url + "/hooks/shopify/orders", data=body, timeout=5, headers={
            "Content-Type": "application/json", "X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "w9",
            "X-Shopify-Hmac-Sha256": signature})
        assert response.status_code == 422 and "JSON object" in response.json()["error"]["message"]
