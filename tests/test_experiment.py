"""The store's side of the holdout experiment: a held-out customer gets normal
service and no service prompt, never less; visits record their arm and the
level they would have had; each customer's outcomes are measured once and
leave as per-arm counts without identifiers."""

import io
import tempfile
from pathlib import Path

import pytest
from helpers import ID_KEY, tier_csv
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.store import experiment, outbox, visits
from posplugin.store.service import DAY, Store
from posplugin.tiers import holdout
from posplugin.tiers.lists import import_csv

MURDOCH = ("phone", "+47 412 34 567")
PRIORITY = ("email", "Micro.Mia@Example.com")
STANDARD = ("loyalty_id", "L-1001")


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clocked(settings, loaded_store):
    loaded_store.close()
    clock = Clock()
    store = Store(settings, clock=clock)
    yield store, clock
    store.close()


def name_putting(store, who, arm, share=0.5):
    """An experiment name that puts customer ``who`` in ``arm``."""
    customer = store.hasher(*who)
    return next(f"exp-{i}" for i in range(200) if holdout.arm(ID_KEY, f"exp-{i}", customer, share) == arm)


def run(store, name, share=0.5):
    with store.db.write() as conn:
        experiment.apply_manifest(conn, {"experiment": name, "holdout_share": share}, store.clock())
    store.holdout.forget()


def visit_rows(store):
    return [(v.arm, v.experiment, v.service_level, v.prompt_id, v.sale_total) for v in store.visits.recorded()]


def test_a_held_out_customer_gets_normal_service_and_no_service_prompt(clocked):
    store, _ = clocked
    run(store, name_putting(store, MURDOCH, holdout.HOLDOUT))
    answer = store.identify("1", *MURDOCH)
    assert answer.prompt is None and not answer.prompt_created
    # Like any customer with standard service: nothing on a till sets them apart.
    assert (answer.known, answer.tier, answer.service_level, answer.engaged_reach, answer.niches) == \
        (False, "everyday", "standard", 0, [])
    (arm, name, level, prompt_id, _), = visit_rows(store)
    assert arm == "holdout" and name.startswith("exp-") and level == "murdoch" and prompt_id is None
    # Pain prompts are never held out.
    assert store.report_painpoint("queue", lane="1")["kind"] == "pain"


def test_a_served_customer_gets_the_prompt_and_the_visit_says_served(clocked):
    store, _ = clocked
    name = name_putting(store, MURDOCH, holdout.SERVED)
    run(store, name)
    answer = store.identify("1", *MURDOCH, sale_total=120.5)
    assert answer.prompt["kind"] == "service" and answer.service_level == "murdoch" and answer.known
    assert visit_rows(store) == [("served", name, "murdoch", answer.prompt["id"], 120.5)]


def test_without_an_experiment_nothing_changes(clocked):
    store, _ = clocked
    with store.db.write() as conn:
        assert not experiment.apply_manifest(conn, {"format": "posplugin-feed/1"}, store.clock())
    assert store.identify("1", *MURDOCH).prompt is not None
    assert visit_rows(store)[0][:2] == (None, None)
    store.clock.now += 60
    assert experiment.track(store.db, store.clock.now) == {"visits": 1, "outcomes": 0}
    assert store.db.execute("SELECT scanned_visit FROM experiment_state").fetchone()[0] == 1


def test_a_manifest_without_the_experiment_stops_it(clocked):
    store, _ = clocked
    run(store, name_putting(store, MURDOCH, holdout.HOLDOUT))
    assert store.identify("1", *MURDOCH).prompt is None
    with store.db.write() as conn:
        assert experiment.apply_manifest(conn, {"version": 3}, store.clock())
    store.holdout.forget()
    assert store.identify("2", *MURDOCH).prompt is not None


def outbox_rows(store):
    return [tuple(r) for r in store.db.execute(
        "SELECT experiment, level, arm, metric, value FROM arm_outbox ORDER BY id")]


def test_each_customer_counts_once_per_outcome_when_it_has_matured(clocked):
    store, clock = clocked
    name = name_putting(store, MURDOCH, holdout.SERVED)
    run(store, name)
    store.identify("1", *MURDOCH, stage="queue")
    clock.now += 600
    store.identify("1", *MURDOCH, sale_total=100.0)   # same trip: not a return
    store.identify("2", *STANDARD)
    clock.now += 2 * DAY
    store.identify("1", *MURDOCH, sale_total=50.0)    # a return within 7 days
    invitation = store.after_sale(*MURDOCH, lane="1")
    store.resolve(invitation["id"], "Ana")
    clock.now += 60
    experiment.track(store.db, clock.now)
    assert outbox_rows(store) == []                    # nothing has matured yet
    clock.now += 6 * DAY
    experiment.track(store.db, clock.now)
    experiment.track(store.db, clock.now)              # a second round adds nothing
    assert sorted(outbox_rows(store)) == sorted([
        (name, "murdoch", "served", "return_7", 1.0), (name, "murdoch", "served", "accepted", 1.0),
        (name, "standard", holdout.arm(ID_KEY, name, store.hasher(*STANDARD), 0.5), "return_7", 0.0),
        (name, "standard", holdout.arm(ID_KEY, name, store.hasher(*STANDARD), 0.5), "accepted", 0.0)])
    clock.now += 23 * DAY
    experiment.track(store.db, clock.now)
    later = outbox_rows(store)[4:]
    assert (name, "murdoch", "served", "return_30", 1.0) in later
    assert (name, "murdoch", "served", "spend_30", 150.0) in later   # the POS sent totals
    assert not [r for r in later if r[1] == "standard" and r[3] == "spend_30"]  # it sent none


def test_per_arm_reports_carry_counts_and_sums_only():
    rows = [("e", "murdoch", "served", "return_7", 1.0), ("e", "murdoch", "served", "return_7", 0.0),
            ("e", "murdoch", "holdout", "spend_30", 30.0), ("e", "murdoch", "holdout", "spend_30", 10.0)]
    assert experiment.summarise(rows) == [
        {"experiment": "e", "level": "murdoch", "arm": "holdout", "metric": "spend_30", "n": 2, "sum": 40.0,
         "sum_sq": 1000.0},
        {"experiment": "e", "level": "murdoch", "arm": "served", "metric": "return_7", "n": 2, "sum": 1.0,
         "sum_sq": 1.0}]
    assert set(outbox.OUTBOXES) == {"outbox", "arm_outbox"}


PEOPLE = [MURDOCH, PRIORITY, STANDARD, ("phone", "+47 900 00 001"), ("phone", "+47 900 00 002")]
events = st.lists(st.tuples(st.integers(0, len(PEOPLE) - 1), st.integers(0, 24 * 12),
                            st.sampled_from(["till", "queue"]), st.none() | st.integers(0, 500),
                            st.booleans()), min_size=1, max_size=25)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_every_customer_counts_once_with_the_outcome_their_visits_give(settings, sequence):
    """However visits interleave and whenever the store's rounds run, each
    customer's index visit is their first, and each outcome is reported once,
    matching what their visits say."""
    clock = Clock()
    # A fresh folder each example, kept until the test ends (the store's
    # checkpoint thread may still look at its file just after close).
    tmp = Path(tempfile.mkdtemp(dir=settings.data_dir.parent))
    store = Store(settings.replace(data_dir=tmp), clock=clock)
    try:
        import_csv(store.tiers, io.StringIO(tier_csv()), store.hasher)
        run(store, "prop", share=0.3)
        seen: dict[int, list] = {}
        for who, gap_hours, stage, sale, round_now in sequence:
            clock.now += gap_hours * 3600
            store.identify("1", *PEOPLE[who], stage=stage, sale_total=sale)
            seen.setdefault(who, []).append((clock.now, sale))
            if round_now:
                experiment.track(store.db, clock.now + 10)
        clock.now += 31 * DAY
        experiment.track(store.db, clock.now)
        rows = outbox_rows(store)
    finally:
        store.close()
    for metric in ("return_7", "return_30", "accepted"):
        assert len([r for r in rows if r[3] == metric]) == len(seen)
    for metric, days in (("return_7", 7), ("return_30", 30)):
        expected = sorted(float(any(12 * 3600 <= at - visits[0][0] <= days * DAY for at, _ in visits[1:]))
                          for visits in seen.values())
        assert sorted(r[4] for r in rows if r[3] == metric) == expected
    spends = sorted(float(sum(s for at, s in visits if s is not None and at - visits[0][0] <= 30 * DAY))
                    for visits in seen.values() if any(s is not None and at - visits[0][0] <= 30 * DAY
                                                       for at, s in visits))
    assert sorted(r[4] for r in rows if r[3] == "spend_30") == spends


def test_the_serving_process_picks_up_an_experiment_another_process_recorded(clocked, monkeypatch):
    """serve's sync runs in a child process: the experiment it records reaches
    the tills of the serving process at its next reread."""
    store, _ = clocked
    name = name_putting(store, MURDOCH, holdout.HOLDOUT)
    assert store.identify("1", *MURDOCH).prompt is not None        # no experiment yet (and now cached)
    child = Store(store.settings, clock=store.clock)                  # as `posplugin sync --once` opens it
    try:
        with child.db.write() as conn:
            experiment.apply_manifest(conn, {"experiment": name, "holdout_share": 0.5}, child.clock())
    finally:
        child.close()
    assert store.identify("2", *MURDOCH).prompt is not None          # within REFRESH_S: still the cached state
    monkeypatch.setattr(experiment, "REFRESH_S", 0.0)
    assert store.identify("3", *MURDOCH).prompt is None


def test_the_visit_log_is_read_in_steps_and_never_past_the_time_asked(clocked):
    store, clock = clocked
    for _ in range(5):
        store.identify("1", *STANDARD)
        clock.now += 10
    store.visits.flush()
    last, first_two = visits.scan(store.db.conn, 0, clock.now, limit=2)
    assert len(first_two) == 2 and last == 2
    last, rest = visits.scan(store.db.conn, last, clock.now - 15, limit=10)
    assert len(rest) == 2 and last == 4            # the visit 10 s ago is left for later
    last, tail = visits.scan(store.db.conn, last, clock.now, limit=10)
    assert last == 5 and len(tail) == 1 and tail[0][4] == "standard"


def test_a_held_out_customer_still_counts_in_the_reach_a_pain_prompt_reports(clocked):
    """Pain prompts serve everyone in the queue: holding a customer out of
    service prompts takes nothing from the reach waiting."""
    store, _ = clocked
    run(store, name_putting(store, MURDOCH, holdout.HOLDOUT))
    answer = store.identify("1", *MURDOCH, stage="queue")
    assert answer.service_level == "standard"                       # nothing shown to the queue system
    store.visits.flush()
    assert store.queues.overview()["waiting_reach"] == 260          # 4,200 followers at 6.2 %
