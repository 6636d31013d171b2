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


def test_writes_together_commit_each_piece_once_and_a_failing_one_alone_is_undone(db):
    """Twelve threads write at once through write_together: pieces queued while
    another thread commits go into its transaction, each gets its own result,
    and the one that fails (a duplicate key, after writing a row of its own)
    leaves nothing behind and takes no other piece with it."""
    db.execute("INSERT INTO t (id, v) VALUES (999, 'taken')")
    start = threading.Barrier(12)
    results, errors = {}, {}
    commits = []
    real_commit = db._commit_together

    def counting(batch):
        commits.append(len(batch))
        time.sleep(0.01)  # a commit that takes a while, as a disk's does: others queue meanwhile
        real_commit(batch)

    db._commit_together = counting

    def piece(n):
        def work(conn):
            conn.execute(INSERT, (n, f"row {n}"))
            if n == 7:
                conn.execute(INSERT, (999, "again"))  # fails: its own row 7 must go too
            return n * 10
        start.wait()
        try:
            results[n] = db.write_together(work)
        except Exception as exc:
            errors[n] = exc

    threads = [threading.Thread(target=piece, args=(n,)) for n in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == {n: n * 10 for n in range(12) if n != 7}
    assert list(errors) == [7] and "UNIQUE" in str(errors[7])
    assert ids(db) == [n for n in range(12) if n != 7] + [999]
    assert sum(commits) == 12 and len(commits) < 12  # some pieces shared a commit


def test_a_piece_alone_that_fails_leaves_nothing_and_the_next_one_writes(db):
    def failing(conn):
        conn.execute(INSERT, (1, "x"))
        conn.execute(INSERT, (1, "again"))

    with pytest.raises(Exception, match="UNIQUE"):
        db.write_together(failing)
    assert ids(db) == []
    assert db.write_together(lambda conn: conn.execute(INSERT, (2, "y")).rowcount) == 1
    assert ids(db) == [2]
