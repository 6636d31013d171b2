"""The visit log: ids, writes now or deferred, who waits in a queue, purging."""

import pytest
from helpers import hold_writes

from posplugin.store.queues import counted
from posplugin.store.schema import open_database
from posplugin.store.visits import Visit, VisitLog


@pytest.fixture
def log(tmp_path):
    db = open_database(tmp_path / "posplugin.db")
    yield VisitLog(db)
    db.close()


def reach(log, since):
    """Per lane: (known influencers waiting, their summed engaged reach)."""
    return {lane: counted(waits) for lane, waits in log.waiting(log.db.conn, since).items()}


def visit(log, at, lane="1", customer=b"c" * 32, stage="queue", tier="nano", reach=100, known=True):
    return Visit(log.next_id(), at, lane, customer, stage, known, tier, "murdoch", reach)


def test_ids_continue_after_a_restart(tmp_path):
    db = open_database(tmp_path / "posplugin.db")
    log = VisitLog(db)
    with db.write() as conn:
        log.insert(conn, visit(log, 1.0))
        log.insert(conn, visit(log, 2.0))
    assert VisitLog(db).next_id() > 2  # past every id handed out (ids are reserved in blocks)
    db.close()


def test_deferred_visits_are_written_by_flush(log):
    log.defer(visit(log, 1.0))
    log.flush()
    assert len(log.recorded()) == 1


def test_waiting_counts_known_influencers_still_in_the_queue(log):
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
        log.insert(conn, visit(log, 101.0, customer=b"b" * 32, reach=30, tier="everyday"))
        log.insert(conn, visit(log, 102.0, lane="2", customer=b"c" * 32, reach=50))
        log.insert(conn, visit(log, 50.0, customer=b"d" * 32, reach=999))        # too long ago
        log.insert(conn, visit(log, 103.0, customer=b"e" * 32, stage="till"))    # at a till, not waiting
    assert reach(log, since=60.0) == {"1": (1, 150), "2": (1, 50)}
    assert log.waiting_customers() == {b"a" * 32, b"b" * 32, b"c" * 32, b"d" * 32}


def test_leaving_and_being_served_end_waits(log):
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
        log.insert(conn, visit(log, 101.0, customer=b"b" * 32, reach=70))
        log.insert(conn, visit(log, 102.0, customer=b"c" * 32, reach=10))
        log.leave_queue(conn, visit(log, 110.0, customer=b"b" * 32, stage="till"))
    log.served("1", 111.0, waiting_since=60.0)   # the longest waiting (a) is served
    log.flush()
    assert reach(log, since=60.0) == {"1": (1, 10)}
    assert log.waiting_customers() == {b"c" * 32}


def test_a_leave_that_lands_late_ends_only_the_waits_begun_before_it(log):
    """A customer reached a till while the disk was full (their leave waits in
    the group writer), then joined a queue again once it had room: the late
    leave ends the first wait, not the second, even when the clock stepped
    back between them."""
    hold_writes(log.db)
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
    log.leave_queue_later(visit(log, 110.0, customer=b"a" * 32, stage="till"))
    with log.db.write() as conn:
        log.insert(conn, visit(log, 105.0, lane="2", customer=b"a" * 32, reach=120))  # the clock stepped back
    log.flush()
    assert reach(log, since=60.0) == {"2": (1, 120)}
    left = log.db.execute("SELECT lane, left_at FROM visits WHERE stage = 'queue' ORDER BY id").fetchall()
    assert [tuple(row) for row in left] == [("1", 110.0), ("2", None)]


def test_purge_deletes_only_older_visits(log):
    with log.db.write() as conn:
        log.insert(conn, visit(log, 10.0))
        log.insert(conn, visit(log, 20.0))
        assert log.purge(conn, before=15.0) == 1
    assert [v.at for v in log.recorded()] == [20.0]


def test_waiting_is_read_again_after_every_queue_write(log):
    assert reach(log, since=60.0) == {}
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
    assert reach(log, since=60.1) == {"1": (1, 120)}
    with log.db.write() as conn:
        log.insert(conn, visit(log, 101.0, customer=b"b" * 32, stage="till"))  # not a queue write
        log.leave_queue(conn, visit(log, 102.0, customer=b"a" * 32, stage="till"))
    assert reach(log, since=60.2) == {}
    with log.db.write() as conn:
        log.insert(conn, visit(log, 103.0, customer=b"c" * 32, reach=40))
    log.served("1", 104.0, waiting_since=60.0)  # deferred: seen once the writer has landed it
    log.flush()
    assert reach(log, since=60.3) == {}


def test_waiting_is_not_read_again_while_nothing_changes(log, monkeypatch):
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
    # The writer's rounds (every 50 ms) also make it read again: held still here.
    monkeypatch.setattr(type(log.db.deferred), "rounds", property(lambda writer: 7))
    reads = []
    log.db.conn.set_trace_callback(lambda sql: reads.append(sql) if "FROM visits" in sql else None)
    answers = [reach(log, since=60.0 + i / 1000) for i in range(100)]
    assert all(a == {"1": (1, 120)} for a in answers)
    assert len(reads) == 1
    monkeypatch.setattr(type(log.db.deferred), "rounds", property(lambda writer: 8))  # the writer landed a round
    assert reach(log, since=60.2) == {"1": (1, 120)}
    log.db.conn.set_trace_callback(None)
    assert len(reads) == 2


def test_a_customer_who_waited_too_long_is_not_counted_from_an_old_answer(log):
    with log.db.write() as conn:
        log.insert(conn, visit(log, 100.0, customer=b"a" * 32, reach=120))
    assert reach(log, since=99.5) == {"1": (1, 120)}
    assert reach(log, since=99.9) == {"1": (1, 120)}
    assert reach(log, since=100.001) == {}


def test_ended_waits_are_left_out_at_once_and_written_soon(log):
    with log.db.write() as conn:
        for i, at in enumerate((100.0, 101.0, 102.0)):
            log.insert(conn, visit(log, at, customer=bytes([97 + i]) * 32, reach=10 ** i))
    waits = log.waiting(log.db.conn, since=60.0)["1"]
    assert [w.at for w in waits] == [100.0, 101.0, 102.0]           # the longest waiting first
    log.end_waits(list(waits[:2]), 110.0)
    # At once, whether or not the group writer has landed it yet.
    assert reach(log, since=60.0) == {"1": (1, 100)}
    log.flush()
    assert log.waiting_customers() == {b"c" * 32}
    assert reach(log, since=60.0) == {"1": (1, 100)}
