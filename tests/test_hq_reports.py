"""Head office's outcome reports, without HTTP: each batch counted once
whatever the order and number of deliveries, and medians that are medians."""

import statistics
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.db import Database
from posplugin.hq.reports import Outcomes
from posplugin.hq.db import database_url, open_engine

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


def outcomes(folder: Path) -> Outcomes:
    open_engine(database_url(folder)).dispose()
    db = Database(folder / "hq.db", [])
    return Outcomes(db, clock=lambda: HOUR0 + 4 * 3600)


@hsettings(max_examples=40, deadline=None)
@given(batches, st.lists(st.integers(0, 5), max_size=10))
def test_every_batch_counts_once_however_often_it_arrives(sent, repeats):
    with tempfile.TemporaryDirectory() as tmp:
        office = outcomes(Path(tmp))
        deliveries = list(range(len(sent))) + [r % len(sent) for r in repeats]  # retries, in any order
        firsts = [office.receive(sent[i][0], f"batch-{i}", sent[i][1]) for i in deliveries]
        assert sum(firsts) == len(sent)
        for store in ("oslo", "bergen"):
            mine = [h for name, hs in sent if name == store for h in hs]
            figures = office.figures(store, HOUR0)
            assert figures["prompts_made"] == sum(h["made"]["service:murdoch"] for h in mine)
            assert figures["taken"] == sum(h["taken"] for h in mine)
            assert figures["reach_served_murdoch"] == sum(h["reach_served"]["murdoch"] for h in mine)
            times = [t for h in mine for t in h["times_to_act_s"]]
            assert figures["median_time_to_act_s"] == (round(statistics.median(times), 1) if times else None)
        office.db.close()
