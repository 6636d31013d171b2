"""The prompt lifecycle over HTTP: take, resolve, expire, escalate, audited."""

import pytest
from helpers import identify

from posplugin.store import prompts


def test_take_then_resolve(clients):
    prompt = identify(clients["till"]).json()["prompt"]
    taken = clients["staff"].post(f"/api/v1/prompts/{prompt['id']}/ack", json={"by": "Ana"}).json()
    assert taken["status"] == "taken" and taken["taken_by"] == "Ana" and taken["taken_at"]
    done = clients["till"].post(f"/api/v1/prompts/{prompt['id']}/resolve",
                                json={"by": "Ola", "note": "gave a sample"}).json()
    assert done["status"] == "resolved" and done["resolved_by"] == "Ola"
    assert done["taken_by"] == "Ana" and done["note"] == "gave a sample"


def test_repeating_a_transition_is_harmless(clients):
    prompt = identify(clients["till"]).json()["prompt"]
    path = f"/api/v1/prompts/{prompt['id']}"
    first = clients["staff"].post(path + "/ack", json={"by": "Ana"}).json()
    again = clients["staff"].post(path + "/ack", json={"by": "Kari"})
    assert again.status_code == 200 and again.json()["taken_by"] == "Ana" == first["taken_by"]
    clients["staff"].post(path + "/resolve", json={"by": "Ana"})
    assert clients["staff"].post(path + "/resolve", json={"by": "Ana"}).status_code == 200
    late = clients["staff"].post(path + "/ack", json={"by": "Kari"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "prompt_closed"


def test_resolving_without_taking_counts_as_taken(clients):
    prompt = identify(clients["till"]).json()["prompt"]
    done = clients["staff"].post(f"/api/v1/prompts/{prompt['id']}/resolve", json={"by": "Ana"}).json()
    assert done["taken_by"] == "Ana" and done["taken_at"] == done["resolved_at"]


@pytest.mark.parametrize("status,count", [("open", 1), ("taken", 0), ("resolved", 0), (None, 1)])
def test_list_by_status(clients, status, count):
    identify(clients["till"])
    query = f"?status={status}" if status else ""
    assert len(clients["staff"].get("/api/v1/prompts" + query).json()["prompts"]) == count


def test_list_puts_murdoch_and_urgent_first(clients):
    identify(clients["till"], "micro.mia@example.com", id_type="email")  # priority, created first
    clients["staff"].post("/api/v1/painpoints", json={"kind": "staff", "lane": "2"})
    identify(clients["till"])                           # murdoch
    levels = [p["level"] for p in clients["staff"].get("/api/v1/prompts").json()["prompts"]]
    assert levels == ["murdoch", "urgent", "priority"]


def test_expiry_and_escalation_are_audited(loaded_store):
    store = loaded_store
    service = store.identify("3", "phone", "+4741234567").prompt
    pain = store.report_painpoint("queue", "2")
    start = store.clock()
    store.clock = lambda: start + 3600
    assert store.tick() == {"expired": 1, "escalated": 1, "calmed": 0}
    assert store.tick() == {"expired": 0, "escalated": 0, "calmed": 0}  # once each
    conn = store.db.conn
    assert prompts.get(conn, service["id"])["status"] == "expired"
    assert prompts.get(conn, pain["id"])["escalated"] is True
    assert [e["action"] for e in prompts.history(conn, service["id"])] == ["created", "expired"]
    assert [e["action"] for e in prompts.history(conn, pain["id"])] == ["created", "escalated"]
    with pytest.raises(Exception) as info:
        store.resolve(service["id"], "Ana")
    assert getattr(info.value, "status", None) == 409


def test_every_transition_is_in_the_audit_trail(loaded_store):
    store = loaded_store
    prompt = store.identify("3", "phone", "+4741234567").prompt
    store.ack(prompt["id"], "Ana")
    store.ack(prompt["id"], "Ana")
    store.resolve(prompt["id"], "Ana", "done")
    trail = prompts.history(store.db.conn, prompt["id"])
    assert [(e["action"], e["by"]) for e in trail] == [("created", None), ("taken", "Ana"),
                                                        ("resolved", "Ana")]


@pytest.fixture
def shift_clock(settings, loaded_store):
    """The small store with a clock the test moves: service prompts expire 10
    minutes after the customer's last identify (the default)."""
    from helpers import Clock

    from posplugin.store.service import Store

    loaded_store.close()
    clock = Clock(1_800_000_000.0)
    store = Store(settings, clock=clock)
    yield store, clock
    store.close()


def test_a_service_prompt_expires_once_its_customer_has_surely_left(shift_clock):
    store, clock = shift_clock
    assert store.settings.service_expire_minutes == 10
    left = store.identify("3", "phone", "+4741234567").prompt
    taken = store.identify("1", "handle", "bigben").prompt
    store.ack(taken["id"], "Ana")  # taken, but the customer goes all the same
    stays = store.identify("2", "email", "micro.mia@example.com").prompt
    clock.advance(8 * 60)
    assert store.identify("2", "email", "micro.mia@example.com").prompt["id"] == stays["id"]  # still there
    clock.advance(2 * 60 + 1)
    assert store.tick()["expired"] == 2
    conn = store.db.conn
    assert prompts.get(conn, left["id"])["status"] == "expired"
    assert prompts.get(conn, taken["id"])["status"] == "expired"
    assert prompts.get(conn, stays["id"])["status"] == "open"  # identified again 2 minutes ago
    clock.advance(8 * 60)
    assert store.tick()["expired"] == 1
    assert store.list_prompts(status="open") == [] and store.list_prompts(status="taken") == []


def test_the_sale_done_closes_the_customers_till_prompts_at_once(clients):
    open_ = identify(clients["till"], lane="3").json()["prompt"]
    taken = identify(clients["till"], "bigben", id_type="handle", lane="1").json()["prompt"]
    clients["till"].post(f"/api/v1/prompts/{taken['id']}/ack", json={"by": "Ola"})
    done = clients["till"].post("/api/v1/sales", json={
        "lane": 3, "identifier": {"type": "phone", "value": "412 34 567"}, "sale_total": 120.5})
    assert done.status_code == 200, done.text
    answer = done.json()
    assert [(p["id"], p["status"]) for p in answer["closed"]] == [(open_["id"], "expired")]
    assert answer["prompt"]["kind"] == "amplify" and answer["prompt"]["lane"] == "3"  # the floor may invite them
    # The customer who bought at lane 1 was served by whoever took it.
    other = clients["till"].post("/api/v1/sales", json={"identifier": {"type": "handle", "value": "@BigBen"}})
    [closed] = other.json()["closed"]
    assert closed["status"] == "resolved" and closed["resolved_by"] == "Ola"
    assert closed["note"] == "Sale done: the customer has left the till."
    live = clients["staff"].get("/api/v1/prompts?status=open").json()["prompts"]
    assert {p["kind"] for p in live} == {"amplify"}
    unknown = clients["till"].post("/api/v1/sales", json={"identifier": {"type": "phone", "value": "+4790000000"}})
    assert unknown.json() == {"prompt": None, "closed": []}
    assert clients["staff"].post("/api/v1/sales", json={"identifier": {"type": "phone", "value": "1"}}
                                 ).status_code == 403


def test_a_listing_counts_beyond_its_limit(loaded_store):
    store = loaded_store
    for n in range(205):
        store.report_painpoint("other", note=f"spill {n}")
    assert len(store.list_prompts(status="open")) == 200
    assert store.count_prompts(status="open") == 205
    assert store.count_prompts(status="resolved") == 0
