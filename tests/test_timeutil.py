"""Epoch seconds inside, ISO-8601 UTC at the edges."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.timeutil import iso, parse_iso


@pytest.mark.parametrize("ts,text", [
    (0, "1970-01-01T00:00:00.000Z"), (1_795_428_924.1234, "2026-11-23T10:15:24.123Z"),
    (1_795_428_924.9996, "2026-11-23T10:15:25.000Z"), (None, None),
])
def test_iso(ts, text):
    assert iso(ts) == text


@pytest.mark.parametrize("text,ts", [
    ("2026-11-23T10:15:24Z", 1_795_428_924), ("2026-11-23T10:15:24z", 1_795_428_924),
    ("2026-11-23T11:15:24+01:00", 1_795_428_924), ("2026-11-23T10:15:24.500+00:00", 1_795_428_924.5),
])
def test_parse_iso(text, ts):
    assert parse_iso(text) == ts


@pytest.mark.parametrize("text", ["2026-11-23T10:15:24", "yesterday", "", "2026-13-01T00:00:00Z"])
def test_parse_iso_needs_a_zone_and_a_date(text):
    with pytest.raises(ValueError):
        parse_iso(text)


@given(st.integers(0, 4_000_000_000_000))
def test_round_trip_to_the_millisecond(millis):
    assert parse_iso(iso(millis / 1000)) == pytest.approx(millis / 1000, abs=1e-6)
