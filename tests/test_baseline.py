"""What is normal for a lane: hour-of-week slots, the window of weeks, enough samples."""

import datetime as dt
import zoneinfo

import pytest

from posplugin.store import baseline
from posplugin.store.schema import open_database

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


@pytest.mark.parametrize("when,slot", [
    ("2026-11-23T00:30", 0),       # Monday, first hour
    ("2026-11-23T01:00", 1),
    ("2026-11-24T10:30", 34),      # Tuesday 10:00-10:59
    ("2026-11-28T12:59", 5 * 24 + 12),
    ("2026-11-29T23:59", 167),     # Sunday, last hour
    ("2026-03-29T03:30", 6 * 24 + 3),  # the morning clocks go forward: local hours still count
])
def test_slot_is_the_local_hour_of_the_week(when, slot):
    assert baseline.slot(at(when), OSLO) == slot


def test_slot_follows_the_store_time_zone_not_utc():
    noon_utc = dt.datetime(2026, 11, 23, 12, tzinfo=dt.timezone.utc).timestamp()
    assert baseline.slot(noon_utc, OSLO) == 13
    assert baseline.slot(noon_utc, zoneinfo.ZoneInfo("America/New_York")) == 7


@pytest.fixture
def history(tmp_path):
    db = open_database(tmp_path / "posplugin.db")
    yield db
    db.close()


def add(db, lane, when, length):
    with db.write() as conn:
        conn.execute("INSERT INTO queue_history (lane, at, slot, length) VALUES (?, ?, ?, ?)",
                     (lane, when, baseline.slot(when, OSLO), length))


NOW = at("2026-11-24T10:30")


def normal(db, lane="1", weeks=8, min_samples=3):
    return baseline.normal_for(db.conn, lane, baseline.slot(NOW, OSLO), NOW, weeks=weeks,
                               min_samples=min_samples, default=3.0)


def test_exactly_min_samples_of_the_lane_is_enough(history):
    for week in (1, 2, 3):
        add(history, "1", NOW - week * baseline.WEEK, 7)
    assert normal(history) == (7.0, "lane")
    assert normal(history, min_samples=4) == (3.0, "default")


def test_only_the_last_weeks_count(history):
    add(history, "1", NOW - 1 * baseline.WEEK, 7)
    add(history, "1", NOW - 2 * baseline.WEEK - 60, 50)     # a minute before the two-week window
    assert normal(history, weeks=2, min_samples=2)[1] == "default"
    add(history, "1", NOW - 2 * baseline.WEEK + 60, 9)      # a minute inside it
    assert normal(history, weeks=2, min_samples=2) == (8.0, "lane")  # median of 7 and 9
    assert normal(history, weeks=3, min_samples=3) == (9.0, "lane")  # 7, 9, 50


def test_the_store_stands_in_for_a_lane_without_history(history):
    for week in (1, 2, 3):
        add(history, "2", NOW - week * baseline.WEEK, 5)
    assert normal(history, lane="1") == (5.0, "store")


def test_the_future_and_other_hours_do_not_count(history):
    for week in (1, 2, 3):
        add(history, "1", NOW - week * baseline.WEEK + 3600, 9)   # the next hour
    add(history, "1", NOW + 60, 9)
    assert normal(history) == (3.0, "default")
