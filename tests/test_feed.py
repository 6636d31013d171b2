"""The feed's formats: snapshots, deltas between them, and the delta chain a
store can follow."""

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.tiers import feed

HASHES = st.binary(min_size=32, max_size=32)
RECORDS = st.tuples(st.integers(0, 10**9), st.floats(0, 1), st.lists(st.text(max_size=8), max_size=3))
LISTS = st.dictionaries(HASHES, RECORDS, max_size=40)


def snapshot(rows: dict) -> str:
    return "".join(feed.snapshot_line(key, f, r, json.dumps(n)) for key, (f, r, n) in sorted(rows.items()))


def apply(rows: dict, delta: str) -> dict:
    result = dict(rows)
    for line in io.StringIO(delta):
        key, values = feed.parse_delta_line(line)
        if values is None:
            del result[key]
        else:
            result[key] = (values[0], values[1], list(values[2]))
    return result


@given(LISTS, LISTS)
def test_a_delta_turns_the_old_snapshot_into_the_new(old, new):
    out = io.StringIO()
    upserts, deletes = feed.write_delta(io.StringIO(snapshot(old)), io.StringIO(snapshot(new)), out)
    assert apply(old, out.getvalue()) == new
    assert deletes == len(old.keys() - new.keys())
    assert upserts == len(new.keys() - old.keys()) + sum(1 for k in old.keys() & new.keys() if old[k] != new[k])


@given(LISTS)
def test_an_unchanged_list_has_an_empty_delta(rows):
    out = io.StringIO()
    assert feed.write_delta(io.StringIO(snapshot(rows)), io.StringIO(snapshot(rows)), out) == (0, 0)
    assert out.getvalue() == ""


@pytest.mark.parametrize("line", ["", "x\t" + "ab" * 32 + "\n", "-\tnothex\n", "-\t" + "ab" * 31 + "\n",
                                  "+\t" + "ab" * 32 + "\t-1\t0.1\t[]\n", "+\t" + "ab" * 32 + "\t5\t2.0\t[]\n",
                                  "+\t" + "ab" * 32 + "\t5\t0.1\tnot json\n"])
def test_malformed_delta_lines_are_refused(line):
    with pytest.raises(feed.FeedError):
        feed.parse_delta_line(line)


def manifest(version, *steps):
    return {"version": version, "deltas": [{"from": a, "to": b} for a, b in steps]}


@pytest.mark.parametrize("m,current,expected", [
    (manifest(3, (1, 2), (2, 3)), 1, [(1, 2), (2, 3)]),
    (manifest(3, (1, 2), (2, 3)), 2, [(2, 3)]),
    (manifest(3, (2, 3)), 1, None),            # too far behind: snapshot
    (manifest(3, (1, 2), (2, 3)), None, None),  # no list yet: snapshot
    (manifest(3, (1, 3)), 1, [(1, 3)]),        # versions need not be consecutive
    (manifest(2, (1, 2)), 2, []),              # already there (the caller sees "unchanged")
    (manifest(4, (2, 2)), 2, None),            # a loop never ends a chain
])
def test_delta_chain(m, current, expected):
    chain = feed.delta_chain(m, current)
    assert (None if chain is None else [(d["from"], d["to"]) for d in chain]) == expected
