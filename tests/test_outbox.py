"""Outcome reports: written with the events they report, delivered to a real
head office over HTTP, counted once however often a batch is retried, kept
while head office is down, and free of identifiers."""

import io
import json
import sqlite3
import threading

import pytest
import requests
from helpers import cli_env, hq_query, tier_csv

from posplugin.hq.web.app import create_hq_app
from posplugin.store import outbox
from posplugin.store.service import Store
from posplugin.store.sync import sync_once
from posplugin.tiers.lists import import_csv
from posplugin.web.server import BackgroundServer


@pytest.fixture
def store(hq, settings, loaded_store):
    loaded_store.close()
    token = hq.create_token("store", "oslo-1")
    s = Store(settings.replace(hq_url=hq.server.url, hq_token=token, hq_public_key=hq.public_key))
    yield s
    s.close()


@pytest.fixture
def own_store(settings):
    """A store with the test list and no head office: the outbox's own rules
    need neither one (nor both of its database backends)."""
    s = Store(settings)
    import_csv(s.tiers, io.StringIO(tier_csv()), s.hasher)
    yield s
    s.close()


def activity(store):
    """A service prompt taken and resolved, a pain point resolved, one left open."""
    prompt = store.identify("3", "phone", "+4741234567").prompt        # murdoch, reach 260
    store.ack(prompt["id"], "Ana")
    store.resolve(prompt["id"], "Ana")
    pain = store.report_painpoint("stock", "2", "no oat milk", "Ola")
    store.resolve(pain["id"], "Ola")
    store.identify("4", "email", "micro.mia@example.com")             # priority, left open


def test_every_prompt_event_is_in_the_outbox_in_the_same_transaction(own_store):
    store = own_store
    activity(store)
    _, rows = outbox.next_batch(store)
    assert [r[1] for r in rows] == ["created", "taken", "resolved", "created", "resolved", "created"]
    with pytest.raises(RuntimeError):
        with store.db.write() as conn:
            conn.execute("INSERT INTO prompt_events (prompt_id, at, action) VALUES (1, 0, 'taken')")
            raise RuntimeError("crash before commit")
    assert outbox.counts(store.db)["pending"] == 6


def test_reports_reach_head_office_once(hq, store):
    activity(store)
    assert sync_once(store).ok
    figures = hq.stores()[0]["figures"]
    assert figures["prompts_made"] == 3 and figures["taken"] == 1 and figures["resolved"] == 2
    assert figures["pain_episodes"] == 1 and figures["reach_served_murdoch"] == 260
    assert sync_once(store).ok  # nothing new: nothing sent, nothing counted twice
    assert hq.stores()[0]["figures"]["prompts_made"] == 3


def test_a_retried_batch_is_counted_once(hq, store):
    activity(store)
    batch, rows = outbox.next_batch(store)
    body = {"batch": batch, "hours": outbox.summarise(rows)}
    headers = {"Authorization": f"Bearer {store.settings.hq_token}"}
    # The first delivery's answer is lost on the way back: the store retries.
    first = requests.post(hq.server.url + "/hq/v1/reports", json=body, headers=headers).json()
    assert first == {"accepted": True}
    assert outbox.next_batch(store)[0] == batch  # same batch, same rows, until acknowledged
    assert sync_once(store).ok
    assert hq.stores()[0]["figures"]["prompts_made"] == 3
    assert outbox.counts(store.db) == {"pending": 0, "sent": 6, "refused": 0}


def test_head_office_down_keeps_everything_until_it_returns(hq, store):
    activity(store)
    port = hq.server.port
    hq.server.stop()
    assert not sync_once(store, http=requests.Session()).ok
    assert outbox.counts(store.db)["pending"] == 6
    store.identify("3", "handle", "bigben")  # more happens while head office is away
    hq.server = BackgroundServer(create_hq_app(hq), port=port).start()
    assert sync_once(store).ok
    assert hq.stores()[0]["figures"]["prompts_made"] == 4


def test_reports_carry_no_identifiers(hq, store):
    activity(store)
    sync_once(store)
    reports = [r[0] for r in hq_query(hq, "SELECT hours FROM reports")]
    stored = " ".join(reports)
    hashes = [v.customer.hex() for v in store.visits.recorded()]
    assert hashes and not any(h in stored for h in hashes)
    for raw in ("41234567", "micro.mia", "Ana", "Ola", "oat milk"):
        assert raw not in stored
    assert set(json.loads(reports[0])[0]) >= {"hour", "made", "taken", "resolved"}


class AnswerLost:
    """WSGI wrapper: head office counts the first report, then holds its
    answer back until released (the store is killed meanwhile)."""

    def __init__(self, app):
        self.app = app
        self.counted = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        if environ["PATH_INFO"] == "/hq/v1/reports" and not self.counted.is_set():
            self.counted.set()
            self.release.wait(30)
        return result


@pytest.mark.slow
def test_a_store_killed_before_the_answer_delivers_exactly_once(hq, store, tmp_path):
    """SIGKILL the store's sync after head office counted a batch but before
    the store heard back: the batch stays in the outbox, is resent as the same
    batch by the next sync, and head office counts it once."""
    import signal
    import subprocess
    import sys

    from helpers import run_cli

    activity(store)
    store.close()
    lossy = AnswerLost(create_hq_app(hq))
    slow = BackgroundServer(lossy).start()
    env = cli_env(hq_token=store.settings.hq_token, hq_public_key=hq.public_key)
    data = str(store.settings.data_dir)
    try:
        victim = subprocess.Popen([sys.executable, "-m", "posplugin", "sync", "--once", "--data", data],
                                  env={**env, "POSPLUGIN_HQ_URL": slow.url},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert lossy.counted.wait(30)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        lossy.release.set()
        slow.stop()
    assert hq.stores()[0]["figures"]["prompts_made"] == 3
    conn = sqlite3.connect(store.settings.data_dir / "posplugin.db")
    pending = conn.execute("SELECT DISTINCT batch FROM outbox WHERE sent_at IS NULL").fetchall()
    assert len(pending) == 1 and pending[0][0] is not None  # fixed before sending, kept through the kill
    again = run_cli("sync", "--once", "--data", data, env={**env, "POSPLUGIN_HQ_URL": hq.server.url})
    assert again.returncode == 0, again.stdout + again.stderr
    assert conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
    conn.close()
    assert hq.stores()[0]["figures"]["prompts_made"] == 3  # counted once
    assert hq_query(hq, "SELECT count(*) FROM reports")[0][0] == 1


def test_a_clock_stepped_back_gives_no_negative_time_to_act(hq, store):
    """NTP corrects the till PC's clock by two minutes between a prompt and its
    ack: the time to act is clamped to 0, head office accepts the report."""
    from helpers import Clock
    store.close()
    clock = Clock()
    s = Store(store.settings, clock=clock)
    try:
        prompt = s.identify("3", "phone", "+4741234567").prompt
        clock.now -= 120  # the clock steps backwards
        s.ack(prompt["id"], "Ana")
        rows = outbox.next_batch(s)[1]
        assert all(t >= 0 for h in outbox.summarise(rows) for t in h["times_to_act_s"])
        assert sync_once(s).ok
        assert outbox.counts(s.db)["pending"] == 0
    finally:
        s.close()


def test_a_refused_batch_never_blocks_the_ones_behind_it(hq, store, monkeypatch):
    """Head office refuses the first batch as it is (422): it is set aside and
    kept, the next batch is delivered, and the round says something was refused."""
    activity(store)
    real = outbox.summarise
    calls = []

    def first_one_broken(rows):
        calls.append(1)
        hours = real(rows)
        return [{**hours[0], "taken": -1}] if len(calls) == 1 else hours

    monkeypatch.setattr(outbox, "summarise", first_one_broken)
    monkeypatch.setattr(outbox, "BATCH_ROWS", 3)
    result = sync_once(store)
    assert result.status == "refused" and "refused by head office (422" in result.message
    assert outbox.counts(store.db) == {"pending": 0, "sent": 3, "refused": 3}
    assert hq.stores()[0]["figures"]["resolved"] >= 1  # the second batch was counted


H = 1_795_424_400.0  # 2026-11-23T09:00:00Z, the start of an hour


def test_summarise_buckets_by_hour_and_counts_each_outcome():
    rows = [
        (H + 10, "created", "service", "murdoch", H + 10, 260),
        (H + 70.04, "taken", "service", "murdoch", H + 10, 260),
        (H + 100, "resolved", "service", "murdoch", H + 10, 260),
        (H + 200, "created", "pain", "urgent", H + 200, None),
        (H + 3599.06, "resolved", "pain", "urgent", H + 200, None),
        (H + 3600, "expired", "service", "priority", H + 50, 80),
        (H + 3700, "resolved", "amplify", "priority", H + 3650, None),
    ]
    assert outbox.summarise(rows) == [
        {"hour": "2026-11-23T09:00:00.000Z", "made": {"service:murdoch": 1, "pain:urgent": 1}, "taken": 1,
         "resolved": 2, "expired": 0, "pain_episodes": 1, "pain_seconds": pytest.approx(3399.06),
         "reach_served": {"murdoch": 260}, "times_to_act_s": [60.0], "pain_durations_s": [3399.1]},
        {"hour": "2026-11-23T10:00:00.000Z", "made": {}, "taken": 0, "resolved": 1, "expired": 1,
         "pain_episodes": 0, "pain_seconds": 0.0, "reach_served": {}, "times_to_act_s": [],
         "pain_durations_s": []},
    ]


def test_a_batch_is_fixed_until_sent_and_the_next_takes_the_following_rows(own_store, monkeypatch):
    store = own_store
    monkeypatch.setattr(outbox, "BATCH_ROWS", 2)
    activity(store)                                   # 6 outbox rows
    first, rows = outbox.next_batch(store)
    assert len(rows) == 2 and rows[0][1] == "created"
    assert outbox.next_batch(store) == (first, rows)  # not sent: the same batch, the same rows
    ids = [r[0] for r in store.db.execute("SELECT id FROM outbox WHERE batch = ? ORDER BY id", (first,))]
    assert first.endswith(f"-{ids[0]}-{ids[-1]}") and len(ids) == 2
    with store.db.write() as conn:
        conn.execute("UPDATE outbox SET sent_at = 1 WHERE batch = ?", (first,))
    second, more = outbox.next_batch(store)
    later = [r[0] for r in store.db.execute("SELECT id FROM outbox WHERE batch = ? ORDER BY id", (second,))]
    assert second != first and later == [ids[-1] + 1, ids[-1] + 2]


def test_nothing_to_send_is_none(own_store):
    assert outbox.next_batch(own_store) is None


def test_send_delivers_every_pending_batch_and_counts_them(hq, store, monkeypatch):
    monkeypatch.setattr(outbox, "BATCH_ROWS", 3)
    activity(store)                                   # 6 rows: two batches of 3
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {store.settings.hq_token}"
    assert outbox.send(store, http, hq.server.url + "/hq/v1/reports", timeout=(3, 10)) == (2, None)
    assert outbox.send(store, http, hq.server.url + "/hq/v1/reports", timeout=(3, 10)) == (0, None)
    assert hq.stores()[0]["figures"]["prompts_made"] == 3
