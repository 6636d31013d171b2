"""Visits: who was identified where and when, as hashes only.

Most identifies at a till change nothing but the visit log, and a commit per
visit would cost more than the whole tier lookup. Those visits are handed to a
writer thread that commits them in batches (group commit), so the till never
waits for the disk. Visits that other answers depend on at once (a customer
joining or leaving a queue, a visit that made a prompt) are written in the
caller's own transaction instead. A crash can lose the last few milliseconds
of batched visits; they are statistics, not something owed to head office.
"""

from __future__ import annotations

import collections
import itertools
import logging
import sqlite3
import threading

from .db import Database

log = logging.getLogger("posplugin.visits")

COLUMNS = ("id", "at", "lane", "customer", "stage", "known", "tier", "service_level",
           "engaged_reach", "prompt_id", "sale_id")
INSERT = f"INSERT INTO visits ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class VisitLog:
    """Allocates visit ids and writes visits, now (:meth:`insert`) or soon (:meth:`defer`).

    Deferred visits are written every ``interval_s`` seconds. The writer is not
    woken per visit: waking a thread for each one costs the till more (in GIL
    hand-offs) than the commit it saves. Ids come from a counter seeded from the
    table, so one process (the one serving this data folder) must own the log.
    """

    def __init__(self, db: Database, interval_s: float = 0.05):
        self.db = db
        self._interval = interval_s
        start = db.execute("SELECT coalesce(max(id), 0) FROM visits").fetchone()[0]
        self._ids = itertools.count(start + 1)
        self._id_lock = threading.Lock()
        self._pending: collections.deque[tuple] = collections.deque()
        self._flush_requested = threading.Event()
        self._written = threading.Condition()
        self._generation = 0
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def next_id(self) -> int:
        with self._id_lock:
            return next(self._ids)

    def insert(self, conn: sqlite3.Connection, row: tuple) -> None:
        """Write one visit row (COLUMNS order) inside the caller's transaction."""
        conn.execute(INSERT, row)

    def defer(self, row: tuple) -> None:
        """Queue one visit row for the writer thread."""
        if self._writer is None:
            self._start_writer()
        self._pending.append(row)

    def flush(self) -> None:
        """Return once every visit deferred so far is committed."""
        if self._writer is None:
            return
        with self._written:
            target = self._generation + 2  # the round under way may have missed our rows
            self._flush_requested.set()
            while self._generation < target:
                self._written.wait(1.0)
                self._flush_requested.set()

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="posplugin-visits", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            self._flush_requested.wait(self._interval)
            self._flush_requested.clear()
            self._write_pending()
            with self._written:
                self._generation += 1
                self._written.notify_all()

    def _write_pending(self) -> None:
        rows = []
        while self._pending:
            rows.append(self._pending.popleft())
        if not rows:
            return
        try:
            with self.db.write() as conn:
                conn.executemany(INSERT, rows)
        except Exception:
            log.exception("could not write %d visits", len(rows))

    def purge(self, conn: sqlite3.Connection, before: float) -> int:
        """Delete visits older than ``before``."""
        return conn.execute("DELETE FROM visits WHERE at < ?", (before,)).rowcount
