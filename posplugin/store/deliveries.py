"""Vendor webhook deliveries already seen (``hook_events``): a vendor that
retries an event must not make a second prompt or reading."""

from __future__ import annotations

import sqlite3

MAX_ID = 200


def first(conn: sqlite3.Connection, source: str, event_id: str, now: float) -> bool:
    """True the first time ``source``'s ``event_id`` is recorded; False for a replay.
    Inside the caller's write transaction."""
    return conn.execute("INSERT OR IGNORE INTO hook_events (source, event_id, at) VALUES (?, ?, ?)",
                        (source, str(event_id)[:MAX_ID], now)).rowcount == 1


def purge(conn: sqlite3.Connection, before: float) -> int:
    """Forget deliveries older than ``before`` (a vendor retries for hours, not weeks)."""
    return conn.execute("DELETE FROM hook_events WHERE at < ?", (before,)).rowcount
