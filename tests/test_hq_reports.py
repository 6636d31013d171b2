"""Head office's outcome reports, without HTTP: each batch counted once
whatever the order and number of deliveries, and medians that are medians."""

import os
import random
import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import ID_KEY, children, hq_query, start_hq
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.hq.db import database_url, open_engine
from posplugin.hq.figures import Figures
from posplugin.hq.office import HeadOffice
from posplugin.hq.reports import Outcomes
from posplugin.hq.schema import metadata
from posplugin.timeutil import iso

HOUR0 = 1_795_428_000.0  # 2026-11-23T10:00:00Z
HOURS = [f"2026-11-23T{h:02d}:00:00Z" for h in range(10, 14)]



@st.composite
def hours(draw):
    """An hour a store could send: every prompt taken or ended was made (in
    this hour, here), one duration for each taken prompt and pain episode."""
    made = draw(st.integers(0, 20))
    taken, resolved = draw(st.integers(0, made)), draw(st.integers(0, made))
    times = draw(st.lists(st.floats(0, 3600, allow_nan=False).map(lambda s: round(s, 1)), max_size=min(taken, 5)))
    pain = draw(st.lists(st.floats(0, 7200, allow_nan=False).map(lambda s: round(s, 1)), max_size=min(resolved, 3)))
    return {"hour": draw(st.sampled_from(HOURS)), "made": {"service:murdoch": made}, "taken": taken,
            "resolved": resolved, "times_to_act_s": times, "pain_episodes": len(pain), "pain_seconds": sum(pain),
            "pain_durations_s": pain, "reach_served": {"murdoch": resolved * 200}}


batches = st.lists(st.tuples(st.sampled_from(["oslo", "bergen"]), st.lists(hours(), min_size=1, max_size=4)),
                   min_size=1, max_size=6)


@pytest.fixture
def outcomes(tmp_path, migrated_hq_url):
    """``outcomes()``: Outcomes on head office's database (either backend), its
    tables emptied first: one database for the test, empty for each of
    hypothesis's examples."""
    engine = open_engine(database_url(tmp_path / "hq", migrated_hq_url))

    def empty() -> Outcomes:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        return Outcomes(engine, clock=lambda: HOUR0 + 4 * 3600)

    yield empty
    engine.dispose()


@pytest.mark.slow
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=batches, repeats=st.lists(st.integers(0, 5), max_size=10))
def test_every_batch_counts_once_however_often_it_arrives(outcomes, sent, repeats):
    office = outcomes()
    deliveries = list(range(len(sent))) + [r % len(sent) for r in repeats]  # retries, in any order
    firsts = [office.receive(sent[i][0], f"batch-{i}", sent[i][1]) for i in deliveries]
    assert sum(firsts) == len(sent)
    for store in ("oslo", "bergen"):
        mine = [h for name, hs in sent if name == store for h in hs]
        figures = Figures(office.engine, clock=office.clock).of_store(store, HOUR0)
        assert figures["prompts_made"] == sum(h["made"]["service:murdoch"] for h in mine)
        assert figures["taken"] == sum(h["taken"] for h in mine)
        assert figures["reach_served_murdoch"] == sum(h["reach_served"]["murdoch"] for h in mine)
        times = [t for h in mine for t in h["times_to_act_s"]]
        # PostgreSQL's percentile_cont and Python may round an exact .x5 apart.
        assert figures["median_time_to_act_s"] == (
            pytest.approx(statistics.median(times), abs=0.051) if times else None)
        pains = [t for h in mine for t in h["pain_durations_s"]]
        assert figures["median_pain_minutes"] == (
            pytest.approx(statistics.median(pains) / 60, abs=0.051) if pains else None)


# -- many senders at once, over real processes ---------------------------------

STORES, SENDERS, BATCHES = 2, 5, 12  # senders per store (racing for its rows), batches per sender
# The twelve hours before now: a real head office takes the last year's hours.
CONCURRENT_HOURS = [iso(time.time() // 3600 * 3600 - h * 3600) for h in range(1, 13)]


def a_batch(rng: random.Random) -> list[dict]:
    """A batch true on its own (so any order of arrival is): hours in random
    order, overlapping other batches', each with its durations."""
    hours = []
    for at in rng.sample(CONCURRENT_HOURS, rng.randint(2, 6)):
        made = rng.randint(1, 9)
        taken = rng.randint(0, made)
        hours.append({"hour": at, "made": {"service:murdoch": made}, "taken": taken, "resolved": taken,
                      "times_to_act_s": [float(rng.randint(1, 300)) for _ in range(taken)],
                      "reach_served": {"murdoch": 200 * taken}})
    return hours


class Sender:
    """One store's till PC sending its outbox: each batch twice at once (a
    resend racing the first send), again until head office answers 200,
    and once more after that; every answer recorded."""

    def __init__(self, base: str, token: str, name: str):
        self.base, self.name = base, name
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.answers: dict[str, list] = {}  # batch -> accepted values (None: no answer)
        self.statuses: list[int] = []

    def post(self, batch: str, hours: list) -> bool | None:
        try:
            answer = self.http.post(self.base + "/hq/v1/reports", json={"batch": batch, "hours": hours}, timeout=30)
        except requests.RequestException:  # the worker was killed mid-request, or is being replaced
            self.answers[batch].append(None)
            time.sleep(0.05)
            return None
        self.statuses.append(answer.status_code)
        accepted = answer.json()["accepted"] if answer.status_code == 200 else None
        self.answers[batch].append(accepted)
        if answer.status_code != 200:
            time.sleep(0.05)
        return accepted

    def send(self, batch: str, hours: list, pool: ThreadPoolExecutor) -> None:
        self.answers[batch] = []
        both = [pool.submit(self.post, batch, hours) for _ in range(2)]
        answered = [f.result() for f in both]
        while all(a is None for a in answered):
            answered = [self.post(batch, hours)]
        while (again := self.post(batch, hours)) is None:
            pass
        assert again is False, f"{self.name} {batch}: a resend after the answer was accepted"


@pytest.mark.slow
def test_every_batch_is_kept_exactly_once_with_many_senders_and_a_worker_killed(hq_database_url, tmp_path):
    """Head office serving several processes (one on SQLite), stores sending
    new batches and resends at once from many threads, a serving process
    SIGKILLed mid-run: every batch stored once, answered true once (unless
    the answer died with its process), every later resend false, the
    dashboard's sums what the stores sent. Batch ids repeat across stores."""
    workers = 3 if hq_database_url else 1
    data = tmp_path / "hq"
    settings = {"hq_database_url": hq_database_url} if hq_database_url else {}
    office = HeadOffice(data, ID_KEY, database_url=hq_database_url)
    tokens = {f"store-{s}": office.create_token("store", f"store-{s}") for s in range(STORES)}
    admin = office.create_token("admin", "ops")
    proc, base = start_hq(data, settings, workers=workers)
    rng = random.Random(21)
    plan = {(store, f"b-{sender}-{i}"): a_batch(rng)
            for store in tokens for sender in range(SENDERS) for i in range(BATCHES)}
    senders = {store: Sender(base, token, store) for store, token in tokens.items()}
    killed = threading.Event()

    def run(store: str, sender: int) -> None:
        with ThreadPoolExecutor(2) as pool:
            for i in range(BATCHES):
                senders[store].send(f"b-{sender}-{i}", plan[store, f"b-{sender}-{i}"], pool)
                if i == BATCHES // 3 and store == "store-0" and sender == 0:
                    killed.set()

    try:
        with ThreadPoolExecutor(STORES * SENDERS) as threads:
            running = [threads.submit(run, store, sender) for store in tokens for sender in range(SENDERS)]
            killed.wait(120)
            if workers > 1:
                os.kill(min(children(proc.pid)), signal.SIGKILL)  # the supervisor starts another
            else:
                proc.kill()  # the whole service dies; its service manager starts it again
                proc.wait()
                proc, base = start_hq(data, settings, port=int(base.rsplit(":", 1)[1]))
            for done in running:
                done.result()
        stored = {(r[0], r[1]) for r in hq_query(office, "SELECT store, batch FROM reports")}
        view = requests.get(base + "/hq/v1/stores?days=30", timeout=30,
                            headers={"Authorization": f"Bearer {admin}"}).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        office.close()

    statuses = [s for sender in senders.values() for s in sender.statuses]
    assert 500 not in statuses and set(statuses) <= {200, 429, 503}, sorted(set(statuses))
    assert stored == set(plan) and hq_query(office, "SELECT count(*) FROM reports")[0][0] == len(plan)
    for store, sender in senders.items():
        for batch, answers in sender.answers.items():
            trues = answers.count(True)
            # One true per batch; none only when the answer that said it died with its process.
            assert trues == 1 or (trues == 0 and None in answers), (store, batch, answers)
    figures = {s["name"]: s["figures"] for s in view["stores"]}
    for store in tokens:
        sent = [h for (name, _), hours in plan.items() if name == store for h in hours]
        assert figures[store]["prompts_made"] == sum(h["made"]["service:murdoch"] for h in sent)
        assert figures[store]["taken"] == sum(h["taken"] for h in sent)
        assert figures[store]["reach_served"] == sum(h["reach_served"]["murdoch"] for h in sent)
    assert view["totals"]["prompts_made"] == sum(h["made"]["service:murdoch"] for hs in plan.values() for h in hs)
