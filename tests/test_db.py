"""SQLite plumbing (db.py): the deferred writer never throws away the rows
batched with a bad one, and keeps and retries what the disk refuses."""

import threading
import time

import pytest

from posplugin.db import Database

MIGRATIONS = [("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")]
INSERT = "INSERT INTO t (id, v) VALUES (?, ?)"


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "x.db", MIGRATIONS)
    yield database
    database.close()


def ids(db) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM t ORDER BY id")]


@pytest.mark.parametrize("bad", [
    (5, {"evil": 1}),       # a value SQLite cannot bind
    (5, None),              # NOT NULL
    (1, "again"),           # a duplicate key
    (5, 2 ** 70),           # past 64 bits
])
def test_one_bad_row_never_takes_its_batch_with_it(db, bad):
    writer = db.deferred
    for i in range(1, 41):
        writer.defer(INSERT, bad if i == 5 and bad[0] == 5 else (i, f"v{i}"))
    if bad[0] == 1:
        writer.defer(INSERT, bad)
    db.flush()
    expected = [i for i in range(1, 41) if not (i == 5 and bad[0] == 5)]
    assert ids(db) == expected
    assert writer.refused == 1 and writer.waiting == 0 and writer.failing is None


def test_a_full_disk_keeps_the_rows_and_retries_them(db, full_disk):
    """ENOSPC injected: nothing is written, nothing is dropped, ``failing``
    says why; once the disk has room again every row lands, in order."""
    writer = db.deferred
    disk = full_disk(db)
    for i in range(1, 11):
        writer.defer(INSERT, (i, "x"))
    db.flush()
    assert ids(db) == [] and writer.waiting == 10
    assert "disk is full" in writer.failing
    disk.room()
    deadline = time.monotonic() + 5
    while writer.waiting and time.monotonic() < deadline:
        db.flush()
    assert ids(db) == list(range(1, 11))
    assert writer.failing is None and writer.refused == 0


def test_the_deferred_writer_can_first_be_asked_for_inside_a_write(db):
    # Made on first use: making it must not wait for the write lock its caller holds.
    def ask():
        with db.write() as conn:
            conn.execute(INSERT, (1, "now"))
            db.deferred.defer(INSERT, (2, "later"))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "db.deferred waited for the write lock its own caller held"
    db.flush()
    assert ids(db) == [1, 2]
