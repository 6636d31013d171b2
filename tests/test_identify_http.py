"""POST /api/v1/identify over real HTTP, against DESIGN.md's contract."""

import pytest
from helpers import ID_KEY, Client, Clock, identify
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.config import Settings
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.tiers import feed, passes
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

IDENT = "/api/v1/identify"


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
        assert (body["followers"], body["engagement_rate"], body["engaged_reach"]) == (0, 0.0, 0)


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


# -- passes and verify_level ------------------------------------------------

@pytest.fixture
def pass_till(settings, loaded_store):
    """``pass_till(verify_level)``: a store that checks passes against a head
    office key, on a hand-moved clock; returns (till client, store, signing key)."""
    loaded_store.close()
    started = []
    key = Ed25519PrivateKey.generate()

    def start(verify_level="none"):
        store = Store(settings.replace(hq_public_key=feed.public_key_text(key), verify_level=verify_level),
                      clock=Clock())
        with store.db.write() as conn:
            token = auth.create_token(conn, "till", "till-pass")
        server = BackgroundServer(create_app(store=store)).start()
        started.append((server, store))
        return Client(server.url, token), store, key

    yield start
    for server, store in started:
        server.stop()
        store.close()


def a_pass(store, key, value="+4741234567", id_type="phone", at=None):
    return passes.issue(key, store.hasher(id_type, value), now=store.clock() if at is None else at)


def test_a_pass_identifies_and_is_verified(pass_till):
    till, store, key = pass_till()
    body = identify(till, a_pass(store, key), "pass").json()
    assert (body["known"], body["verified"], body["service_level"]) == (True, True, "murdoch")
    assert body["prompt"]["level"] == "murdoch" and body["verify_for"] is None
    typed = identify(till, "+4741234567", lane="4").json()
    assert typed["verified"] is False and typed["service_level"] == "murdoch"


@pytest.mark.parametrize("verify_level,typed_level,prompt_level,verify_for", [
    ("murdoch", "priority", "priority", "murdoch"),
    ("priority", "standard", "standard", "murdoch"),
    ("none", "murdoch", "murdoch", None),
])
def test_verify_level_caps_what_a_typed_number_gets(pass_till, verify_level, typed_level,
                                                    prompt_level, verify_for):
    till, store, key = pass_till(verify_level)
    typed = identify(till, "412 34 567").json()
    assert (typed["service_level"], typed["verify_for"]) == (typed_level, verify_for)
    assert typed["prompt"]["level"] == prompt_level
    assert ("ask to see their pass" in typed["prompt"]["action"]) is (verify_for is not None)
    assert ("ask to see their pass" in typed["prompt"]["body"]) is (verify_for is not None)
    shown = identify(till, a_pass(store, key), "pass").json()
    assert shown["service_level"] == "murdoch" and shown["verified"] is True
    if verify_for:
        # The pass raises the prompt: a new one, and the capped one is closed.
        assert shown["prompt"]["id"] != typed["prompt"]["id"] and shown["prompt"]["level"] == "murdoch"
        old = till.get("/api/v1/prompts?lane=3").json()["prompts"]
        assert {p["id"]: p["status"] for p in old}[typed["prompt"]["id"]] == "resolved"
    else:
        assert shown["prompt"]["id"] == typed["prompt"]["id"]


def test_priority_customer_under_murdoch_verify_level_is_untouched(pass_till):
    till, store, key = pass_till("murdoch")
    body = identify(till, "micro.mia@example.com", "email").json()
    assert (body["service_level"], body["verify_for"]) == ("priority", None)


def edited(text, at):
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("case,make,code", [
    ("a screenshot ten minutes later", lambda s, k: a_pass(s, k, at=s.clock() - 600), "pass_expired"),
    ("another chain", lambda s, k: a_pass(s, Ed25519PrivateKey.generate()), "pass_other_chain"),
    ("a phone number sent as a pass", lambda s, k: "+4741234567", "pass_unreadable"),
    ("an edited pass", lambda s, k: edited(a_pass(s, k), 40), "pass_forged"),
])
def test_a_pass_that_cannot_be_trusted_gets_no_tier(pass_till, case, make, code):
    till, store, key = pass_till("murdoch")
    r = identify(till, make(store, key), "pass")
    assert r.status_code == 422, case
    assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == "identifier.value"
    assert "tier" not in r.json()


def test_the_same_pass_ten_minutes_later_is_refused(pass_till):
    till, store, key = pass_till("murdoch")
    scanned = a_pass(store, key)
    assert identify(till, scanned, "pass").json()["verified"] is True
    store.clock.now += 600
    r = identify(till, scanned, "pass")
    assert r.status_code == 422 and r.json()["error"]["code"] == "pass_expired"
    assert "expired" in r.json()["error"]["message"]


def test_a_store_without_hq_public_key_cannot_check_passes(clients):
    r = identify(clients["till"], "PP1:" + "A" * 170, "pass")
    assert r.status_code == 422 and r.json()["error"]["code"] == "pass_unverifiable"


@pytest.fixture(scope="module")
def pass_server(tmp_path_factory):
    """One store checking passes, for the fuzz test (module-wide: hypothesis
    runs many examples against it)."""
    store = Store(Settings(data_dir=tmp_path_factory.mktemp("pass-store"), id_key=ID_KEY,
                           default_region="NO", rate_limit_per_s=0,
                           hq_public_key=feed.public_key_text(Ed25519PrivateKey.generate())))
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", "fuzz")
    server = BackgroundServer(create_app(store=store)).start()
    yield Client(server.url, token)
    server.stop()
    store.close()


@hsettings(max_examples=60, deadline=None)
@given(value=st.one_of(st.text(min_size=1, max_size=256),
                       st.builds(lambda s: "PP1:" + s, st.text(
                           alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=160, max_size=180))))
def test_any_scanned_garbage_is_a_4xx_over_http(pass_server, value):
    r = identify(pass_server, value, "pass")
    assert 400 <= r.status_code < 500 and set(r.json()) == {"error"}


@pytest.mark.parametrize("sale_total, status", [(129.5, 200), (0, 200), (None, 200), (-1, 422), ("12", 422),
                                                (2e9, 422)])
def test_sale_total_is_optional_and_recorded_on_the_visit(clients, loaded_store, sale_total, status):
    r = identify(clients["till"], "+4741234567", sale_id="s-1", sale_total=sale_total)
    assert r.status_code == status
    if status == 422:
        assert r.json()["error"]["field"] == "sale_total"
        return
    visit = next(v for v in loaded_store.visits.recorded() if v.id == r.json()["visit_id"])
    assert visit.sale_total == sale_total
