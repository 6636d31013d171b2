"""Head office's database through SQLAlchemy Core: the SQLite file ``hq.db``
in its data folder by default, PostgreSQL when ``hq_database_url`` is set.

Every head office table is declared once, in :mod:`posplugin.hq.schema`, and
made by versioned migrations (Alembic, ``posplugin/hq/migrations/``) that
:func:`open_engine` applies at start. The few things the two engines spell
differently (an upsert, a median, a lock across processes) are here, once, so
every query above is written one way for both.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import threading
import time
import zlib
from pathlib import Path

import numpy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Engine, LargeBinary, cast, create_engine, event, func, inspect, literal, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from ..errors import Busy

BUSY_TIMEOUT_MS = 5_000
# The revisions, shipped inside the package (setup.cfg's package_data).
MIGRATIONS = Path(__file__).with_name("migrations")
# The first revision: the schema as create_all made it before migrations.
BASELINE = "0001"

log = logging.getLogger("posplugin.hq")


def database_url(data_dir: Path, url: str = "") -> str:
    """``url`` if given (``postgresql://…``), else the SQLite file in ``data_dir``."""
    if url:
        # psycopg 3 is the driver; a plain postgresql:// URL would ask for psycopg2.
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{Path(data_dir, 'hq.db').as_posix()}"


def open_engine(url: str) -> Engine:
    """An engine for ``url``, its database brought to the newest revision."""
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        _WriteTurns.install(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    upgrade(engine)
    return engine


def upgrade(engine: Engine, migrations: Path = MIGRATIONS) -> str:
    """Apply every revision in ``migrations`` the database lacks; returns the
    revision it is at. A database made before migrations by ``create_all``
    (head office's tables, no ``alembic_version``) is adopted: what it lacks of
    the first revision is made and it is stamped there, rows untouched.

    Held under the ``schema`` process lock: several processes starting at
    once (``hq serve --workers N``, on several machines) migrate one at a
    time, and the later ones find nothing to do."""
    # On SQLite the lock is a file beside the database file.
    folder = Path(engine.url.database or "").parent
    with process_lock(engine, "schema", folder), engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = conn  # env.py migrates on this one
        heads = set(_heads(str(migrations), (migrations / "versions").stat().st_mtime_ns))
        current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            return ",".join(sorted(heads))
        if not current and _made_by_create_all(conn):
            made = ScriptDirectory.from_config(config).get_revision(BASELINE).module.adopt(conn)
            command.stamp(config, BASELINE)
            log.info("head office database made before migrations: stamped at revision %s%s", BASELINE,
                     f" (made {', '.join(made)})" if made else "")
        command.upgrade(config, "heads")
        return ",".join(sorted(MigrationContext.configure(conn).get_current_heads()))


@functools.lru_cache(maxsize=8)
def _heads(script_location: str, changed: int) -> frozenset[str]:
    """The newest revisions in ``script_location``, its versions folder last
    ``changed`` then (a revision added is seen). Alembic reads every revision
    file to tell: a few hundredths of a second at each start, so once."""
    return frozenset(ScriptDirectory(script_location).get_heads())


def _made_by_create_all(conn) -> bool:
    # hq_tokens and versions were in head office's first release; a database
    # holding neither is empty or someone else's.
    return bool({"hq_tokens", "versions"} & set(inspect(conn).get_table_names()))


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL so the page's reads never wait on a store's report; NORMAL is durable
    # against crashes of the process, which is what head office needs.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


class _WriteTurns:
    """This process's writes to one SQLite file take turns on a lock, held
    from a transaction's first write to its end; reads never wait.

    SQLite lets one writer in at a time and makes the others retry, sleeping
    1, 2, 5, 10 … 100 ms between tries: with a store's report and the manifest
    polls' sync records each holding the write lock for a millisecond, those
    sleeps, not the work, made the tail of a report (p99 of 450 ms at 5,000
    stores in a closed loop). A lock here hands over at once. Writers in other
    processes (``hq import``) still meet SQLite's busy timeout."""

    _locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()
    KEY = "posplugin.hq.writing"

    @classmethod
    def install(cls, engine: Engine) -> None:
        database = engine.url.database
        if not database or database == ":memory:":
            return
        with cls._guard:
            lock = cls._locks.setdefault(str(Path(database).resolve()), threading.Lock())
        turns = cls(lock)
        event.listen(engine, "before_cursor_execute", turns.before_execute)
        event.listen(engine, "commit", turns.end)
        event.listen(engine, "rollback", turns.end)
        event.listen(engine.pool, "checkin", turns.checkin)

    def __init__(self, lock: threading.Lock):
        self.lock = lock

    def before_execute(self, conn, _cursor, statement, *_args) -> None:
        if conn.info.get(self.KEY) is not None or statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA"):
            return
        # A thread that already writes on another connection would wait for
        # itself: after SQLite's own timeout it goes on, as it did before.
        conn.info[self.KEY] = self.lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000)

    def end(self, conn) -> None:
        # An exception that invalidated the connection mid-transaction (Ctrl-C
        # inside SQLite, say) leaves no info to read here: the pool's checkin
        # below gives the turn back.
        if not conn.invalidated:
            self._release(conn.info)

    def checkin(self, _dbapi_conn, record) -> None:
        # A connection given back with its transaction still open (the pool
        # rolls it back without a rollback event).
        self._release(record.info)

    def _release(self, info: dict) -> None:
        if info.pop(self.KEY, None):
            self.lock.release()


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was
# rolled back whole and may simply run again.
RETRYABLE_STATES = ("40P01", "40001")
ATTEMPTS = 5


def transaction(engine: Engine, work, *, attempts: int = ATTEMPTS):
    """``work(conn)`` in one transaction, run again from the start when the
    database rolled it back to break a deadlock or a conflict (PostgreSQL) or
    stayed locked (SQLite). Returns what ``work`` returns; raises
    :class:`Busy` (503, nothing kept) when every attempt was turned back."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            if not _retryable(exc):
                raise
            log.info("transaction rolled back by the database (%s); attempt %s of %s",
                     str(exc.orig).split("\n")[0][:120], attempt, attempts)
        # Jittered, growing: two transactions that met once should not meet again.
        time.sleep(random.uniform(0, 0.005 * 2 ** attempt))
    raise Busy("head office's database is busy; nothing was kept, send it again shortly")


def _retryable(exc: OperationalError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    return state in RETRYABLE_STATES or (state is None and "database is locked" in str(exc.orig))


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def insert(engine: Engine, table):
    """The dialect's INSERT, which has ``on_conflict_do_nothing``/``_do_update``."""
    return (postgresql.insert if is_postgresql(engine) else sqlite.insert)(table)


def pack(values) -> bytes:
    """Durations as ``store_day_durations`` holds them: little-endian doubles."""
    return numpy.asarray(values, dtype="<f8").tobytes()


def unpack(packed: bytes) -> numpy.ndarray:
    return numpy.frombuffer(packed, dtype="<f8")


def appended(column, more):
    """The packed ``column`` with the packed ``more`` added at its end."""
    # bytea || bytea on PostgreSQL; SQLite's || makes text of two blobs (the
    # bytes intact), so it is cast back.
    return cast(column.concat(more), LargeBinary)


def appended_all(engine: Engine, column):
    """An aggregate: the packed values of every row of the group, end to end."""
    if is_postgresql(engine):
        return func.string_agg(column, literal(b"", LargeBinary))
    return cast(func.group_concat(column, ""), LargeBinary)


def packed_rows(conn, statement) -> list[tuple]:
    """The rows of ``statement``, which selects packed values (bytes). On
    PostgreSQL they are fetched in binary: as text a bytea travels as hex,
    twice its size, and the dashboard's 50 MB of packed durations at 5,000
    stores took twice as long (0.22 s against 0.11 s)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(statement).all()
    compiled = statement.compile(dialect=conn.dialect)
    # The same connection, so the same transaction as the statements around it.
    with conn.connection.driver_connection.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()


@contextlib.contextmanager
def process_lock(engine: Engine, name: str, data_dir: Path):
    """Held by one process at a time across every head office process: a
    PostgreSQL advisory lock (the processes may be on different machines), or
    a file lock beside the SQLite file."""
    if not is_postgresql(engine):
        with FileLock(Path(data_dir) / f"{name}.lock"):
            yield
        return
    with _advisory_lock(engine, name):
        yield


@contextlib.contextmanager
def _advisory_lock(engine: Engine, name: str):
    key = zlib.crc32(f"posplugin.{name}".encode())
    # A connection of its own, held for the whole critical section: the
    # session-level lock ends with it, even if this process dies.
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


class HeldLock:
    """A cross-process lock held until :meth:`release` (see :func:`try_process_lock`)."""

    def __init__(self, release):
        self.release = release


def try_process_lock(engine: Engine, name: str, data_dir: Path) -> HeldLock | None:
    """Take the process lock ``name`` without waiting, and hold it until
    released or this process ends; None when another process holds it. For
    work that must run in one process only for as long as it lives (the
    listening sources' connections)."""
    if not is_postgresql(engine):
        lock = FileLock(Path(data_dir) / f"{name}.lock")
        try:
            lock.acquire(timeout=0)
        except TimeoutError:
            return None
        return HeldLock(lock.release)
    key = zlib.crc32(f"posplugin.{name}".encode())
    conn = engine.connect()
    if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
        conn.close()
        return None
    conn.commit()

    def release():
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
        finally:
            conn.close()
    return HeldLock(release)
