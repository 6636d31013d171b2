"""Visits: who was identified where and when, as hashes only.

Most identifies at a till change nothing but the visit log, and a commit per
visit would cost more than the whole tier lookup. Those visits are deferred to
the database's group writer, so the till never waits for the disk. Visits that
other answers depend on at once (a customer joining or leaving a queue, a visit
that made a prompt) are written in the caller's own transaction instead. A crash can lose the last few milliseconds
of batched visits; they are statistics, not something owed to head office,
but their ids are never handed out again.
"""

from __future__ import annotations

import math
import sqlite3
from typing import NamedTuple

from ..db import Database
from . import ids

# ``stage`` is till or queue (identify), or sale (an after-sale webhook with the
# sale's total). ``service_level`` is the level the customer's tier gives, also
# for a customer held out of an experiment (``arm`` = holdout), who got
# standard service.
# Where identify places a customer: at a till, or waiting in a queue.
STAGES = ("till", "queue")


class Visit(NamedTuple):
    """One row of the visit log, written as it is (its fields are the columns, in order)."""
    id: int
    at: float
    lane: str
    customer: bytes          # the keyed hash of the identifier, never the identifier
    stage: str               # till, queue or sale
    known: bool
    tier: str
    service_level: str
    engaged_reach: int
    prompt_id: int | None = None
    sale_id: str | None = None
    arm: str | None = None
    experiment: str | None = None
    sale_total: float | None = None


COLUMNS = Visit._fields
INSERT = f"INSERT INTO visits ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
# Only the waits begun before the till's visit (ids only grow, whatever the
# clock does): a leave deferred while the disk was full may land after the
# customer has joined a queue again.
LEAVE_QUEUE = ("UPDATE visits SET left_at = ? WHERE customer = ? AND stage = 'queue' AND left_at IS NULL"
               " AND id < ?")
END_OLDEST_WAIT = ("UPDATE visits SET left_at = ? WHERE id = (SELECT id FROM visits WHERE stage = 'queue'"
                   " AND lane = ? AND left_at IS NULL AND at >= ? ORDER BY at LIMIT 1)")
END_WAIT = "UPDATE visits SET left_at = ? WHERE id = ? AND left_at IS NULL"


def _leaving(at_till: Visit) -> tuple:
    """LEAVE_QUEUE's parameters for the customer of a visit at a till."""
    return at_till.at, at_till.customer, at_till.id


class Wait(NamedTuple):
    """A customer identified in a queue who has not left it."""
    id: int
    at: float
    influencer: bool   # known, and on a tier above everyday
    reach: int


ID_BLOCK = 10_000  # ids reserved per commit: a commit every 10,000 visits, not on a till's every thousandth


class VisitLog:
    """Hands out visit ids (:mod:`posplugin.store.ids`: unique for ever, though
    a visit may be written after its id is given) and writes visits, now
    (:meth:`insert`) or soon (:meth:`defer`). One process (the one serving
    this data folder) owns the visit log."""

    def __init__(self, db: Database):
        self.db = db
        self._ids = ids.blocks(db, "visits", ID_BLOCK)
        self._queue_changes = 0  # bumped by every write that moves someone into or out of a queue
        # waiting's last answer: (changes, writer round), since, the oldest wait counted, waits
        self._waiting: tuple[tuple[int, int], float, float, dict] | None = None
        self._ending: set[int] = set()  # waits ended by end_waits whose writes have not landed yet

    def next_id(self) -> int:
        return self._ids.next()

    def insert(self, conn: sqlite3.Connection, visit: Visit) -> None:
        """Write one visit inside the caller's transaction."""
        conn.execute(INSERT, visit)
        if visit.stage == "queue":
            self._queue_changes += 1

    def defer(self, visit: Visit) -> None:
        """Write one visit a few milliseconds from now, batched with others."""
        self.db.deferred.defer(INSERT, visit)

    def flush(self) -> None:
        """Return once every visit deferred so far is committed."""
        self.db.flush()

    def recorded(self) -> list[Visit]:
        """Every visit in the log, oldest first, once those deferred so far are written."""
        self.flush()
        return [Visit(*row) for row in self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM visits ORDER BY id")]

    def waiting_customers(self) -> set[bytes]:
        """Customers identified in a queue who have not left it (yet)."""
        return {row[0] for row in self.db.execute(
            "SELECT customer FROM visits WHERE stage = 'queue' AND left_at IS NULL")}

    def leave_queue(self, conn: sqlite3.Connection, at_till: Visit) -> None:
        """The customer of ``at_till`` (a visit at a till) stops waiting in any
        queue they joined before it, in the caller's transaction."""
        conn.execute(LEAVE_QUEUE, _leaving(at_till))
        self._queue_changes += 1

    def leave_queue_later(self, at_till: Visit) -> None:
        """:meth:`leave_queue` with the deferred writes (the disk refuses writes now)."""
        self.db.deferred.defer(LEAVE_QUEUE, _leaving(at_till))
        self._queue_changes += 1

    def served(self, lane: str, now: float, waiting_since: float) -> None:
        """Someone at ``lane`` was served: the longest-waiting identified customer
        there (since ``waiting_since``) leaves the queue, a few milliseconds from now."""
        self.db.deferred.defer(END_OLDEST_WAIT, (now, lane, waiting_since))
        self._queue_changes += 1

    def end_waits(self, waits: list[Wait], now: float) -> None:
        """These customers have left their queue (the queue system counts fewer
        waiting), a few milliseconds from now; :meth:`waiting` leaves them out at once."""
        for wait in waits:
            self.db.deferred.defer(END_WAIT, (now, wait.id))
            self._ending.add(wait.id)
        self._queue_changes += 1

    def waiting(self, conn: sqlite3.Connection, since: float) -> dict[str, tuple[Wait, ...]]:
        """Per lane: the customers identified in its queue since ``since`` who
        are still waiting, the longest waiting first."""
        # Nearly every queue reading asks, and the answer changes only when a
        # queue visit is written, or a wait counted grows older than ``since``:
        # the last answer is given again until then. It is read again after any
        # queue write here and after each round of the group writer (which lands
        # the deferred ones), so it is never older than a round (50 ms).
        key = (self._queue_changes, self.db.deferred.rounds)  # taken before the read: a write after it is seen next time
        cached = self._waiting
        if cached is not None and cached[0] == key and cached[1] <= since <= cached[2]:
            return cached[3]
        rows = conn.execute(
            "SELECT lane, id, at, known AND tier != 'everyday', engaged_reach FROM visits"
            " WHERE stage = 'queue' AND left_at IS NULL AND at >= ? ORDER BY at, id", (since,)).fetchall()
        # Ended waits not yet landed are left out; the landed ones are forgotten.
        # (Two threads racing here may forget one too soon: it is then ended twice, which changes nothing.)
        ending = self._ending
        self._ending = ending & {row[1] for row in rows}
        by_lane: dict[str, list[Wait]] = {}
        for lane, *wait in rows:
            if wait[0] not in ending:
                by_lane.setdefault(lane, []).append(Wait(wait[0], wait[1], bool(wait[2]), wait[3]))
        waits = {lane: tuple(w) for lane, w in by_lane.items()}
        self._waiting = (key, since, min((row[2] for row in rows), default=math.inf), waits)
        return waits

    def purge(self, conn: sqlite3.Connection, before: float) -> int:
        """Delete visits older than ``before``."""
        self._queue_changes += 1
        return conn.execute("DELETE FROM visits WHERE at < ?", (before,)).rowcount


def scan(conn: sqlite3.Connection, after_id: int, before: float, limit: int = 10_000) -> tuple[int, list[tuple]]:
    """Up to ``limit`` visits after id ``after_id``, up to the newest one at or
    before time ``before``, in id order: ``(id to continue after, [(at,
    customer, experiment, arm, service_level, sale_total), ...])``. For
    readers that keep their place in the log (the experiment's outcomes)."""
    upto = conn.execute("SELECT coalesce(max(id), 0) FROM visits WHERE at <= ?", (before,)).fetchone()[0]
    if upto <= after_id:
        return after_id, []
    rows = conn.execute("SELECT id, at, customer, experiment, arm, service_level, sale_total FROM visits"
                        " WHERE id > ? AND id <= ? ORDER BY id LIMIT ?", (after_id, upto, limit)).fetchall()
    last = rows[-1][0] if len(rows) == limit else upto
    return last, [tuple(r[1:]) for r in rows]
