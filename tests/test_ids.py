"""Ids reserved in blocks: unique for ever, whatever order their reservations land in."""

from helpers import hold_writes

from posplugin.store.ids import RESERVE, IdBlocks


def reserved(db, name: str) -> int:
    return db.execute("SELECT reserved FROM id_reservations WHERE name = ?", (name,)).fetchone()[0]


def test_ids_continue_past_the_reserved_block_after_a_restart(store):
    ids = IdBlocks(store.db, "probe", "visits", 10)
    handed = [ids.next() for _ in range(3)]
    block = reserved(store.db, "probe")
    again = IdBlocks(store.db, "probe", "visits", 10)  # a restart: none of the three was written
    assert again.next() == block + 1 > max(handed)


def test_a_reservation_that_lands_late_never_moves_the_reserved_block_back(store):
    """A block reserved while the disk was full waits in the group writer; the
    next block, reserved once the disk has room, is written at once. The late
    one must not undo it, or a restart would hand out ids already given."""
    db = store.db
    hold_writes(db)
    db.deferred.defer(RESERVE, ("probe", 10))   # the block reserved while the disk was full
    with db.write() as conn:                       # the next block, with room again
        conn.execute(RESERVE, ("probe", 20))
    db.flush()
    assert reserved(db, "probe") == 20
    assert IdBlocks(db, "probe", "visits", 10).next() == 21
