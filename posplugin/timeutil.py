"""Time helpers: epoch seconds inside, ISO-8601 UTC at the edges."""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ``2026-11-23T10:15:00.123Z`` (None stays None)."""
    if ts is None:
        return None
    millis = int(round(ts * 1000))
    seconds, ms = divmod(millis, 1000)
    return f"{_utc_second(seconds)}.{ms:03d}Z"


@functools.lru_cache(maxsize=4096)
def _utc_second(seconds: int) -> str:
    # A prompt carries up to five times, mostly within the same few seconds: formatted once each.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def parse_iso(text: str) -> float:
    """ISO-8601 with a zone (``Z`` or ``+01:00``) → epoch seconds; ValueError otherwise."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone, e.g. 2026-11-23T10:15:00Z")
    try:
        return value.timestamp()
    except (OverflowError, OSError):  # 0001-01-01T00:30:00+01:00 is before year 1 in UTC
        raise ValueError("timestamp is out of range") from None


def whole_number(text: str | None) -> int | None:
    """``text`` as a whole number when it is 1–18 ASCII digits, else None
    (``"²".isdigit()`` is true, and 5,000 digits are no figure anyone means)."""
    if text and len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    return None
