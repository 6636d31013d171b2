"""The store's own behaviour beyond one request: visits, retention, restarts."""

import pytest
import sqlite_utils
from helpers import Clock

from posplugin.store.service import DAY, Store


@pytest.fixture
def clocked(settings, loaded_store):
    loaded_store.close()
    clock = Clock(1_800_000_000.0)
    store = Store(settings, clock=clock)
    yield store, clock
    store.close()


def count(store, table):
    store.visits.flush()
    return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_every_identify_records_a_visit_with_hashes_only(clocked):
    store, _ = clocked
    first = store.identify("1", "email", "stranger@example.com")
    second = store.identify("1", "phone", "+4741234567")
    assert second.visit_id > first.visit_id
    assert [(len(v.customer), v.known, v.tier) for v in store.visits.recorded()] == [(32, 0, "everyday"),
                                                                                     (32, 1, "nano")]
    assert (first.known, first.tier, first.service_level, first.engaged_reach) == (False, "everyday", "standard", 0)


def test_visit_ids_keep_rising_after_a_restart(settings, clocked):
    store, _ = clocked
    last = store.identify("1", "email", "a@example.com").visit_id
    store.close()
    again = Store(settings)
    try:
        assert again.identify("1", "email", "a@example.com").visit_id > last
    finally:
        again.close()


def test_visit_ids_are_never_reused_after_a_crash(settings, clocked, monkeypatch):
    """A visit acknowledged to the till but lost in a crash (its deferred row
    never written) keeps its id: the next run hands out a new one."""
    store, _ = clocked
    store.visits.flush()
    # The crash: the deferred row never reaches the disk.
    monkeypatch.setattr(store.db.deferred, "defer", lambda sql, params: None)
    lost = store.identify("1", "email", "lost@example.com").visit_id
    assert lost not in {v.id for v in store.visits.recorded()}
    again = Store(settings)
    try:
        assert again.identify("1", "email", "other@example.com").visit_id > lost
    finally:
        again.close()


def test_dedupe_window_is_thirty_minutes(clocked):
    store, clock = clocked
    first = store.identify("3", "phone", "+4741234567").prompt
    clock.now += 29 * 60
    assert store.identify("3", "phone", "+4741234567").prompt["id"] == first["id"]
    clock.now += 2 * 60
    assert store.identify("3", "phone", "+4741234567").prompt["id"] != first["id"]


def test_queue_stage_gets_no_till_prompt_and_leaves_at_the_till(clocked):
    store, _ = clocked
    waiting = store.identify("2", "phone", "+4741234567", stage="queue")
    assert waiting.prompt is None and waiting.service_level == "murdoch"
    assert len(store.visits.waiting_customers()) == 1
    at_till = store.identify("2", "phone", "+4741234567")
    assert at_till.prompt is not None
    assert store.visits.waiting_customers() == set()


def test_a_new_prompts_visit_names_it(clocked):
    store, _ = clocked
    made = store.identify("3", "phone", "+4741234567")
    again = store.identify("3", "phone", "+4741234567")
    assert made.prompt_created and not again.prompt_created
    assert store.db.execute("SELECT count(*) FROM prompts WHERE id = ?", (made.prompt["id"],)).fetchone()[0] == 1
    assert [(v.id, v.prompt_id) for v in store.visits.recorded()] == [(made.visit_id, made.prompt["id"]),
                                                                       (again.visit_id, made.prompt["id"])]


def test_retention_purges_old_visits_and_prompts(clocked):
    store, clock = clocked
    store.identify("1", "phone", "+4741234567")
    clock.now += 20 * DAY
    store.identify("1", "email", "micro.mia@example.com")
    clock.now += 11 * DAY  # the first visit is now 31 days old, the second 11
    removed = store.purge()
    assert removed == {"visits": 1, "prompts": 1}
    assert count(store, "visits") == 1 and count(store, "prompts") == 1
    assert count(store, "prompt_events") == 1


def test_publishes_new_prompts_on_the_bus(clocked):
    store, _ = clocked
    with store.bus.subscribe() as sub:
        prompt = store.identify("1", "phone", "+4741234567").prompt
        event = sub.get(timeout=1)
        store.identify("1", "phone", "+4741234567")  # the same prompt again: no new event
        assert sub.get(timeout=0.1) is None
    assert event.kind == "prompt" and event.data["id"] == prompt["id"]


def test_purge_keeps_queue_history_for_the_baseline_window_only(clocked):
    store, clock = clocked
    store.queues.reading("1", 3, at=clock.now - 10 * 7 * DAY)   # older than 8 + 1 weeks
    store.queues.reading("1", 4, at=clock.now - 2 * 7 * DAY)
    store.visits.flush()
    store.purge()
    assert [r[0] for r in store.db.execute("SELECT length FROM queue_history")] == [4]


def test_the_data_folder_opens_in_sqlite_utils(loaded_store):
    """What an operator would open with sqlite-utils or datasette: the store's
    tables with their columns, and the tier list file (hashes only)."""
    loaded_store.identify("1", "email", "micro.mia@example.com")
    loaded_store.visits.flush()
    db = sqlite_utils.Database(loaded_store.settings.db_path)
    assert {"migrations", "tokens", "prompts", "prompt_events", "visits", "outbox", "queue_history", "sync_state",
            "hook_events", "lanes", "id_reservations"} <= set(db.table_names())
    assert db["visits"].count == 1 and "customer" in db["visits"].columns_dict
    tiers = sqlite_utils.Database(loaded_store.tiers.current_file())
    assert tiers.table_names() == ["tiers", "meta"] and tiers["tiers"].count == 4
    assert {r["key"]: r["value"] for r in tiers["meta"].rows}["rows"] == 4
