"""POST /api/v1/identify over real HTTP, against DESIGN.md's contract."""

import pytest

IDENT = "/api/v1/identify"


def identify(client, value, id_type="phone", lane="3", **extra):
    return client.post(IDENT, json={"lane": lane, "identifier": {"type": id_type, "value": value},
                                    **extra})


def test_murdoch_customer_gets_a_prompt_that_says_why(clients):
    r = identify(clients["till"], "412 34 567", display_name="Sam")
    assert r.status_code == 200
    body = r.json()
    assert body["known"] is True
    assert (body["tier"], body["service_level"]) == ("nano", "murdoch")
    assert body["followers"] == 4200 and body["engaged_reach"] == 260
    assert body["engagement_rate"] == pytest.approx(0.062)
    assert body["niches"] == ["running", "coffee"]
    prompt = body["prompt"]
    assert prompt["kind"] == "service" and prompt["level"] == "murdoch" and prompt["lane"] == "3"
    assert prompt["status"] == "open" and prompt["taken_by"] is None
    assert "Sam" in prompt["title"]
    for fact in ("4,200", "6.2%", "260", "running", "coffee"):
        assert fact in prompt["body"]


def test_priority_by_engaged_reach_not_followers(clients):
    body = identify(clients["till"], " micro.mia@EXAMPLE.com ", "email").json()
    assert (body["tier"], body["service_level"], body["engaged_reach"]) == ("micro", "priority", 135)
    assert body["prompt"]["level"] == "priority"


@pytest.mark.parametrize("id_type,value", [
    ("loyalty_id", "L-1001"),            # known but standard: no prompt
    ("email", "optout@example.com"),     # opted out: unknown
    ("email", "stranger@example.com"),   # not on the list
])
def test_no_prompt_for_standard_unknown_or_opted_out(clients, id_type, value):
    body = identify(clients["till"], value, id_type).json()
    assert body["prompt"] is None
    assert body["service_level"] == "standard"
    if value != "L-1001":
        assert body["known"] is False and body["tier"] == "everyday" and body["niches"] == []


def test_same_customer_same_lane_gets_same_prompt_back(clients):
    first = identify(clients["till"], "+4741234567").json()["prompt"]
    again = identify(clients["till"], "0047 412 34 567").json()["prompt"]
    other_lane = identify(clients["till"], "+47 41234567", lane="4").json()["prompt"]
    assert again["id"] == first["id"]
    assert other_lane["id"] != first["id"]


def test_handle_is_case_insensitive_with_optional_at(clients):
    assert identify(clients["staff"], "bigben", "handle").json()["tier"] == "mega"


def test_unparseable_phone_is_422_with_field(clients):
    r = identify(clients["till"], "not a number")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "identifier.value"


@pytest.mark.parametrize("role,status", [("till", 200), ("queue", 200), ("staff", 200),
                                         ("admin", 200), (None, 401)])
def test_identify_roles(clients, role, status):
    assert identify(clients[role], "+4741234567").status_code == status


def test_bad_token_is_401(server):
    import requests
    r = requests.post(server.url + IDENT, json={}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("sale_total, status", [(129.5, 200), (0, 200), (None, 200), (-1, 422), ("12", 422),
                                                (2e9, 422)])
def test_sale_total_is_optional_and_recorded_on_the_visit(clients, loaded_store, sale_total, status):
    r = identify(clients["till"], "+4741234567", sale_id="s-1", sale_total=sale_total)
    assert r.status_code == status
    if status == 422:
        assert r.json()["error"]["field"] == "sale_total"
        return
    loaded_store.flush()
    assert loaded_store.db.execute("SELECT sale_total FROM visits WHERE id = ?",
                                   (r.json()["visit_id"],)).fetchone()[0] == sale_total
