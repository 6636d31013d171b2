"""Lightspeed X-Series remote rule (sale.customer.changed) over HTTP: identify
at the till during the sale, the pop-up answer, the shared secret and replays
(payloads shaped like Lightspeed's remote rule requests)."""

import pytest
import requests
from servers import JsonStandIn

SECRET = "lightspeed-rule-secret"
REGISTER = "0242ac12-0002-11e9-e8c4-659494e33153"


PLUGINS = "lightspeed"  # the conftest fixture `hooked` serves a store with these
PLUGIN_SETTINGS = {
    "lightspeed_secret": SECRET, "lightspeed_registers": f"{REGISTER}=3"}


def rule(customer, sale_id="0f6799a5-3a64-b647-11ed-a739c219e537", event_type="sale.customer.changed"):
    return {"event_type": event_type, "retailer_id": "00000000-0001-0001-0001-000000000001",
            "retailer": {"id": "00000000-0001-0001-0001-000000000001", "domain_prefix": "store"},
            "sale": {"id": sale_id, "register_id": REGISTER, "status": "OPEN", "total_price": "99.99",
                     "custom_fields": []},
            "user": {"id": "08002782-0c90-11e6-e3ed-117ec127b1cb", "username": "ana"},
            "customer": customer}


SAM = {"id": "c-1", "customer_code": "SAM-0001", "first_name": "Sam", "last_name": "Lee",
       "email": "sam@example.net", "phone": "+47 412 34 567", "mobile": ""}


def post(server, payload, secret=SECRET):
    params = {"secret": secret} if secret else {}
    return requests.post(server.url + "/hooks/lightspeed/rules", params=params, json=payload, timeout=5)


def test_an_influencer_gets_a_pop_up_with_the_prompt(hooked):
    server, store = hooked
    response = post(server, rule(SAM))
    assert response.status_code == 200
    [action] = response.json()["actions"]
    assert action["type"] == "require_custom_fields" and action["title"].startswith("Murdoch-level service: Sam")
    assert "260 people" in action["message"]
    assert action["entity"] == "sale" and action["entity_id"] == "0f6799a5-3a64-b647-11ed-a739c219e537"
    assert action["required_custom_fields"] == [{"name": "posplugin_ack"}]
    [prompt] = store.list_prompts(status="open")
    assert prompt["lane"] == "3" and prompt["kind"] == "service"


def test_the_identifier_on_the_tier_list_is_used(hooked):
    server, store = hooked
    # Unknown phone, known email (priority service): identified by the email.
    mia = {"id": "c-2", "phone": "+47 900 00 000", "email": "micro.mia@example.com", "first_name": "Mia"}
    [action] = post(server, rule(mia)).json()["actions"]
    assert action["title"].startswith("Priority")
    # Everyday customers and unknown ones get no pop-up.
    assert post(server, rule({"id": "c-3", "customer_code": "L-1001"}, "s-2")).json() == {"actions": []}
    assert post(server, rule({"id": "c-4", "email": "nobody@example.net"}, "s-3")).json() == {"actions": []}


def test_skippable_pop_up_when_configured(plugin_server):
    server, store = plugin_server(plugins="lightspeed", extra={
        "lightspeed_secret": SECRET, "lightspeed_action": "add_custom_fields",
        "lightspeed_custom_field": "influencer_seen"})
    [action] = post(server, rule(SAM)).json()["actions"]
    assert action["type"] == "add_custom_fields" and action["skippable"] is True
    assert action["required_custom_fields"] == [{"name": "influencer_seen"}]
    assert store.list_prompts(status="open")[0]["lane"] == REGISTER  # unmapped: the register id


def test_replays_and_other_events(hooked):
    server, store = hooked
    first = post(server, rule(SAM)).json()
    visits = len(store.visits.recorded())
    assert post(server, rule(SAM)).json() == first  # a retry: the same pop-up, no second visit
    assert len(store.visits.recorded()) == visits
    store.resolve(store.list_prompts()[0]["id"], "Ana")
    assert post(server, rule(SAM)).json() == {"actions": []}  # once resolved, nothing to show
    assert post(server, rule(SAM, "other-sale", event_type="sale.ready_for_payment")).json() == {"actions": []}
    assert post(server, rule({}, "other-sale")).json() == {"actions": []}  # customer removed from the sale
    assert len(store.list_prompts()) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_or_missing_secret_is_401(hooked, secret):
    server, store = hooked
    response = post(server, rule(SAM), secret=secret)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert store.list_prompts() == []


@pytest.mark.parametrize("change", [
    lambda p: p["sale"].update(id={"evil": 1}),
    lambda p: p.update(customer="c-1"),
    lambda p: p.update(sale=["not", "an", "object"]),
    lambda p: p.update(customer=[SAM]),
], ids=["sale id an object", "customer a string", "sale a list", "customer a list"])
def test_payload_parts_of_the_wrong_type_are_4xx(hooked, change):
    server, store = hooked
    payload = rule(dict(SAM))
    change(payload)
    answer = post(server, payload)
    assert 400 <= answer.status_code < 500 and answer.json()["error"]["code"] != "plugin_failed"


def test_a_body_over_64_kib_is_413(hooked):
    server, _ = hooked
    payload = rule({**SAM, "note": "x" * 70_000})
    answer = post(server, payload)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def fake_xseries(status=200) -> JsonStandIn:
    """A local stand-in for the X-Series API's GET /api/2.0/customers/{id},
    answering {"data": customer} as the 2.0 API does, or an error."""
    return JsonStandIn({"data": {"id": "c-1", "customer_code": "SAM-0001", "first_name": "Sam", "last_name": "Lee",
                                 "email": "sam@example.net", "phone": "+47 412 34 567", "mobile": None}}
                       if status == 200 else {"error": "Not found"}, status)


@pytest.mark.parametrize("status", [200, 500])
def test_a_customer_known_only_by_id_is_looked_up_in_the_background(plugin_server, status):
    """A third-party sample's request: customer {id, account_type}, no
    register_id. The rule answers at once; the customer is fetched from the
    X-Series API and identified (the prompt reaches the till card over the
    stream), or, when the API fails, simply nothing happens."""
    import time
    api = fake_xseries(status)
    seen = api.requests
    server, store = plugin_server(plugins="lightspeed", extra={
        "lightspeed_secret": SECRET, "lightspeed_token": "lsxs_pt_test", "lightspeed_api_url": api.url})
    payload = rule({"id": "c-1", "account_type": "CUSTOMER"})
    del payload["sale"]["register_id"]
    started = time.monotonic()
    assert post(server, payload).json() == {"actions": []}
    assert time.monotonic() - started < 1
    deadline = time.monotonic() + 5
    while not store.list_prompts() and time.monotonic() < deadline and (status == 200 or not seen):
        time.sleep(0.05)
    time.sleep(0.2)
    assert (seen[0][0], seen[0][1]["Authorization"]) == ("/api/2.0/customers/c-1", "Bearer lsxs_pt_test")
    prompts = store.list_prompts()
    assert (len(prompts), prompts[0]["lane"] if prompts else None) == ((1, "lightspeed") if status == 200 else (0, None))
