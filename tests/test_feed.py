"""The feed's formats: snapshots, deltas between them, and the delta chain a
store can follow."""

import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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


KEY = Ed25519PrivateKey.generate()
PUBLIC = feed.public_key_text(KEY)


def signed(**changes):
    return feed.sign({"format": feed.FORMAT, "version": 3, "expires_at": 1000.0, **changes}, KEY)


def test_a_good_manifest_verifies():
    assert feed.verify(signed(), PUBLIC, now=999.0, current_version=3)["version"] == 3
    assert feed.verify(signed(), PUBLIC, now=0.0, current_version=None)["version"] == 3


@pytest.mark.parametrize("doctor,now,current,reason", [
    (lambda s: {**s, "manifest": {**s["manifest"], "version": 4}}, 999.0, None, "does not verify"),
    (lambda s: {**s, "signature": s["signature"][:10] + "!" + s["signature"][10:]}, 999.0, None, "unreadable"),
    (lambda s: {**s, "signature": s["signature"][:-4]}, 999.0, None, "does not verify|unreadable"),
    (lambda s: {"manifest": s["manifest"]}, 999.0, None, "unreadable"),
    (lambda s: s, 1000.0, None, "expired"),                  # expiring at this very second is expired
    (lambda s: s, 999.0, 4, "rollback"),
    (lambda s: signed(format="posplugin-feed/2"), 999.0, None, "format"),
    (lambda s: signed(expires_at="later"), 999.0, None, "expired"),
])
def test_a_doctored_stale_or_old_manifest_is_refused(doctor, now, current, reason):
    with pytest.raises(feed.FeedError, match=reason):
        feed.verify(doctor(signed()), PUBLIC, now=now, current_version=current)


def test_another_key_or_a_bad_key_is_refused():
    with pytest.raises(feed.FeedError, match="does not verify"):
        feed.verify(signed(), feed.public_key_text(Ed25519PrivateKey.generate()), now=0, current_version=None)
    with pytest.raises(feed.FeedError, match="unreadable"):
        feed.verify(signed(), "not base64!", now=0, current_version=None)


def test_snapshot_lines_round_trip_and_bounds():
    key = bytes(range(32))
    line = feed.snapshot_line(key, 4200, 0.062, json.dumps(["løping"]))
    assert feed.parse_snapshot_line(line) == (key, 4200, 0.062, ("løping",))
    assert feed.parse_snapshot_line(feed.snapshot_line(key, 0, 1.0, "[]")) == (key, 0, 1.0, ())
    for bad in (feed.snapshot_line(key[:31], 1, 0.1, "[]"), feed.snapshot_line(key, -1, 0.1, "[]"),
                feed.snapshot_line(key, 1, 1.01, "[]"), feed.snapshot_line(key, 1, -0.1, "[]"),
                line.replace("\t", " ")):
        with pytest.raises(feed.FeedError):
            feed.parse_snapshot_line(bad)


def test_canonical_form_is_key_sorted_and_compact():
    assert feed.canonical({"b": 1, "a": [1, "ø"]}) == '{"a":[1,"ø"],"b":1}'.encode()


def test_the_signing_key_is_made_once_and_kept(tmp_path):
    first = feed.load_or_create_key(tmp_path / "k")
    assert feed.public_key_text(feed.load_or_create_key(tmp_path / "k")) == feed.public_key_text(first)


def test_the_key_file_is_readable_by_its_owner_only(tmp_path):
    feed.load_or_create_key(tmp_path / "keys" / "k")
    assert (tmp_path / "keys" / "k").stat().st_mode & 0o777 == 0o600
