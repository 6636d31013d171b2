"""Head office's outcome reports, without HTTP: each batch counted once
whatever the order and number of deliveries, and medians that are medians."""

import statistics

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.hq.db import database_url, open_engine
from posplugin.hq.figures import Figures
from posplugin.hq.reports import Outcomes
from posplugin.hq.schema import metadata, store_day_durations, store_days

HOUR0 = 1_795_428_000.0  # 2026-11-23T10:00:00Z
HOURS = [f"2026-11-23T{h:02d}:00:00Z" for h in range(10, 14)]

hours = st.builds(
    lambda hour, made, taken, times, pain: {
        "hour": hour, "made": {"service:murdoch": made}, "taken": taken, "times_to_act_s": times,
        "pain_episodes": len(pain), "pain_seconds": sum(pain), "pain_durations_s": pain,
        "reach_served": {"murdoch": made * 200}},
    st.sampled_from(HOURS), st.integers(0, 20), st.integers(0, 20),
    st.lists(st.floats(0, 3600, allow_nan=False).map(lambda s: round(s, 1)), max_size=5),
    st.lists(st.floats(0, 7200, allow_nan=False).map(lambda s: round(s, 1)), max_size=3))
batches = st.lists(st.tuples(st.sampled_from(["oslo", "bergen"]), st.lists(hours, min_size=1, max_size=4)),
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


def test_day_sums_are_made_from_hours_received_before_they_existed(outcomes):
    """The store_days migration: hours already in store_hours are summed into
    days when head office opens, and the figures stay what they were."""
    office = outcomes()
    office.receive("oslo", "b1", [
        {"hour": HOURS[0], "made": {"service:murdoch": 3}, "taken": 2, "times_to_act_s": [10.0, 20.0]},
        {"hour": HOURS[2], "made": {"service:priority": 4}, "times_to_act_s": [90.0]}])
    before = Figures(office.engine, clock=office.clock).of_store("oslo", HOUR0 - 86400)
    with office.engine.begin() as conn:
        conn.execute(store_days.delete())
        conn.execute(store_day_durations.delete())
    assert Figures(office.engine, clock=office.clock).of_store("oslo", HOUR0 - 86400)["prompts_made"] == 0  # the days are what it reads
    again = Outcomes(office.engine, clock=office.clock)
    assert Figures(again.engine, clock=again.clock).of_store("oslo", HOUR0 - 86400) == before
    assert before["prompts_made"] == 7 and before["taken"] == 2 and before["median_time_to_act_s"] == 20.0
    # Inside the first day the hours are read: from 11:00 on only the 12:00 hour counts.
    assert Figures(again.engine, clock=again.clock).of_store("oslo", HOUR0 + 3600)["prompts_made"] == 4
    assert Figures(again.engine, clock=again.clock).of_store("oslo", HOUR0 + 3600)["median_time_to_act_s"] == 90.0
