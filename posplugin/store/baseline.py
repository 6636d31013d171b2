"""What is normal for a lane at this hour of this weekday.

History rows carry their hour-of-week slot (0 = Monday 00:00–00:59 in the
store's time zone) so the baseline is one indexed range read. The median
ignores bursts and a broken sensor's zeros or spikes, as long as they are the
minority of a slot's readings.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo

WEEK = 7 * 86_400.0
STATUSES = ("ok", "busy", "long")


def slot(ts: float, tz: zoneinfo.ZoneInfo | None) -> int:
    """Hour of the week of ``ts`` in the store's time zone (0–167)."""
    local = dt.datetime.fromtimestamp(ts, tz) if tz else dt.datetime.fromtimestamp(ts)
    return local.weekday() * 24 + local.hour


def normal_for(conn, lane: str, slot_of_week: int, now: float, *, weeks: int, min_samples: int,
               default: float) -> tuple[float, str]:
    """``(normal, source)`` for ``lane`` in ``slot_of_week``: the median of the
    lane's own history over the last ``weeks`` weeks, else of all lanes', else
    ``default``. ``source`` is ``lane``, ``store`` or ``default``."""
    since = now - weeks * WEEK
    own = [r[0] for r in conn.execute(
        "SELECT length FROM queue_history WHERE lane = ? AND slot = ? AND at >= ? AND at < ?",
        (lane, slot_of_week, since, now))]
    if len(own) >= min_samples:
        return float(statistics.median(own)), "lane"
    store = [r[0] for r in conn.execute(
        "SELECT length FROM queue_history WHERE slot = ? AND at >= ? AND at < ?",
        (slot_of_week, since, now))]
    if len(store) >= min_samples:
        return float(statistics.median(store)), "store"
    return float(default), "default"


def status(length: int, normal: float, *, factor: float, margin: float) -> str:
    """``long`` when clearly above normal (≥ max(factor × normal, normal + margin)),
    ``busy`` when above normal, else ``ok``."""
    if length >= max(factor * normal, normal + margin):
        return "long"
    if length > normal:
        return "busy"
    return "ok"
