"""Ids handed out before their row is written, unique for ever.

A visit's id goes to the till before the visit is written (the group writer
writes it a few milliseconds later), and a prompt's goes with the answer
even when the disk is full and the prompt waits in memory to be written. So
these ids cannot come from the table alone: a crash would lose the last rows
and their ids would be handed out again, and a row written late could meet
one written since under the same id. Ids are reserved in blocks, each block
recorded in ``id_reservations`` before its first id is used; after a crash
the next id is past the whole reserved block. One allocator per table and
database (:func:`blocks`), in the one process serving the data folder.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from ..db import Database

# Never backwards: a reservation deferred while the disk was full may land
# after a later one that was written at once.
RESERVE = ("INSERT INTO id_reservations (name, reserved) VALUES (?, ?)"
           " ON CONFLICT (name) DO UPDATE SET reserved = max(reserved, excluded.reserved)")
log = logging.getLogger("posplugin.ids")


class IdBlocks:
    """The ids of ``table`` (its ``id`` column), reserved ``block`` at a time under ``name``."""

    def __init__(self, db: Database, name: str, table: str, block: int):
        self.db = db
        self.name = name
        self.block = block
        stored = db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
        reserved = db.execute("SELECT coalesce(max(reserved), 0) FROM id_reservations WHERE name = ?",
                              (name,)).fetchone()[0]
        self._next = max(stored, reserved) + 1
        self._reserved = self._next - 1
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            if self._next > self._reserved:
                reserved = self._next + self.block - 1
                try:
                    with self.db.write() as conn:
                        conn.execute(RESERVE, (self.name, reserved))
                except sqlite3.OperationalError as exc:
                    # The disk refuses writes: the id is still handed out, and the
                    # reservation goes with the deferred writes, retried before them.
                    log.error("could not reserve %s ids (%s); reserving with the deferred writes", self.name, exc)
                    self.db.deferred.defer(RESERVE, (self.name, reserved))
                self._reserved = reserved
            self._next += 1
            return self._next - 1


def blocks(db: Database, name: str, block: int) -> IdBlocks:
    """The one allocator of ``name`` (a table with an ``id`` column) on ``db``:
    two would hand out the same ids."""
    return db.shared(f"ids:{name}", lambda: IdBlocks(db, name, name, block))
