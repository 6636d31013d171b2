"""Finding one customer's line in a published snapshot (posplugin.hq.published)."""

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.hq.customers.published import find
from posplugin.tiers import feed

HASHES = st.binary(min_size=32, max_size=32)


@hsettings(max_examples=60, deadline=None)
@given(st.sets(HASHES, max_size=60), st.lists(HASHES, max_size=5), st.lists(st.text(max_size=12), max_size=3))
def test_every_listed_customer_is_found_and_no_other(tmp_path_factory, listed, others, niches):
    import json
    path = tmp_path_factory.mktemp("snap") / "snapshot-1.tsv"
    rows = sorted(listed)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(feed.snapshot_line(key, 1000 + i, 0.05, json.dumps(niches)) for i, key in enumerate(rows))
    for i, key in enumerate(rows):
        assert find(path, key) == (1000 + i, 0.05, tuple(niches))
    for key in others:
        if key not in listed:
            assert find(path, key) is None
