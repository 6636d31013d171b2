"""SQLite plumbing shared by every posplugin database: connections, named
migrations, a write lock and group commit.

One file in WAL mode so readers never wait for the writer. Each thread gets its
own connection; writes from this process go through one lock so concurrent
requests queue in Python instead of sleeping in SQLite's busy handler, which
would add milliseconds at the till.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .errors import Busy

BUSY_TIMEOUT_MS = 5_000
# SQLite's page cache per connection (KiB). Each worker thread has its own
# connections, so this times the threads is what the caches may hold; the
# operating system caches the files as well, and a read it serves costs a
# microsecond. SQLite's default is 2 MiB.
CACHE_KIB = 1024
log = logging.getLogger("posplugin.db")

def connect(path: str | Path, *, autocheckpoint: bool = True) -> sqlite3.Connection:
    """Open ``path`` with the settings posplugin relies on (WAL, busy timeout).
    Without ``autocheckpoint`` the caller must checkpoint the WAL itself."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable against application crashes and only
    # risks the last transactions on power loss; FULL costs an fsync per visit.
    conn.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.row_factory = sqlite3.Row
    return conn


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open an existing file that must not be written (a tier list): rows as
    plain tuples, autocommit, usable from any thread; raises
    ``sqlite3.OperationalError`` when it cannot be opened."""
    conn = sqlite3.connect(f"file:{Path(path).as_posix()}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


Migrations = list[tuple[str, str]]


def migrate(conn: sqlite3.Connection, migrations: Migrations) -> list[str]:
    """Apply the ``(name, script)`` migrations not yet applied, in order; returns
    their names. Each is recorded by name in ``migrations``: never edit a
    released entry, add a new one."""
    applied = []
    with transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        for name, script in migrations:
            if name in done:
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO migrations VALUES (?, strftime('%s', 'now'))", (name,))
            applied.append(name)
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger's BEGIN … END stays whole."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current.strip())
            current = ""
    return statements


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception, a
    failed ``COMMIT`` too (a full disk refuses it and leaves the transaction
    open, holding SQLite's write lock against every other connection)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# SQLite's primary result codes for a disk that refuses writes: SQLITE_IOERR, SQLITE_FULL.
DISK_CODES = (10, 13)


def disk_refused(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused a write because of the disk (full, or failing), not the statement."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in DISK_CODES
    return "disk is full" in str(exc) or "disk I/O error" in str(exc)


class DiskFull(sqlite3.OperationalError, Busy):
    """A write the disk refused (full, or failing): still an
    ``sqlite3.OperationalError`` to code that defers what it cannot write,
    and a 503 ``disk_full`` (try again later) where it reaches an answer."""

    code = "disk_full"

    def __init__(self, message: str):
        Busy.__init__(self, message, retry_after=5)


class Database:
    """The database at ``path`` with its own ``migrations`` applied: per-thread
    connections and a write lock.

    With ``background_checkpoint`` the WAL is checkpointed by a thread of its
    own every ``checkpoint_s`` seconds instead of by whichever commit crosses
    SQLite's threshold, which would put a checkpoint's fsync on a till's request.
    """

    def __init__(self, path: str | Path, migrations: Migrations, *, background_checkpoint: bool = False,
                 checkpoint_s: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._autocheckpoint = not background_checkpoint
        self._closed = threading.Event()
        self._shared: dict[str, object] = {}
        self._shared_lock = threading.Lock()
        self._deferred_lock = threading.Lock()  # not the write lock: a writer may be asked for inside a write
        self.full: str | None = None  # why the last write failed for the disk, until one succeeds
        migrate(self.conn, migrations)
        if background_checkpoint:
            threading.Thread(target=self._checkpoint_loop, args=(checkpoint_s,),
                             name="posplugin-checkpoint", daemon=True).start()

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, autocheckpoint=self._autocheckpoint)
        return conn

    def _checkpoint_loop(self, every_s: float) -> None:
        conn = connect(self.path)
        try:
            while not self._closed.wait(every_s):
                # PASSIVE never blocks readers or writers; it copies what it can.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    @property
    def utils(self) -> "sqlite_utils.Database":
        """This thread's connection wrapped for sqlite-utils' table API (reads and
        introspection; hot paths and bulk writes stay on sqlite3)."""
        import sqlite_utils  # 14 MB with what it loads (numpy): only where a command uses it

        return sqlite_utils.Database(self.conn)

    @contextlib.contextmanager
    def write(self):
        """A write transaction; yields the connection. Serialised within the process."""
        if getattr(self._local, "in_write", False):
            # Already inside this thread's write (a visit id block reserved while
            # the caller writes): part of that transaction, not a deadlock.
            yield self.conn
            return
        try:
            with self._write_lock, transaction(self.conn) as conn:
                self._local.in_write = True
                try:
                    yield conn
                finally:
                    self._local.in_write = False
        except sqlite3.OperationalError as exc:
            if isinstance(exc, DiskFull) or not disk_refused(exc):
                raise
            if self.full is None:
                log.error("the disk holding %s refuses writes (%s)", self.path.parent, exc)
            self.full = str(exc)
            raise DiskFull(f"the store's disk refuses writes ({exc}); try again shortly") from exc
        self.full = None

    def shared(self, key: str, make):
        """The one object ``make()`` builds for ``key`` on this database (an id
        allocator, say), made on first use."""
        with self._shared_lock:
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    @property
    def deferred(self) -> "GroupWriter":
        """Writes that may land a few milliseconds later, committed in batches."""
        writer = getattr(self, "_deferred", None)
        if writer is None:
            with self._deferred_lock:
                writer = getattr(self, "_deferred", None)
                if writer is None:
                    writer = self._deferred = GroupWriter(self)
        return writer

    def flush(self) -> None:
        """Return once every deferred write so far is committed."""
        writer = getattr(self, "_deferred", None)
        if writer is not None:
            writer.flush()

    def close(self) -> None:
        """Write what is deferred, close this thread's connection, stop the checkpoint thread."""
        self.flush()
        self._closed.set()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class GroupWriter:
    """Commits deferred statements every ``interval_s`` seconds, in order, many
    per transaction (group commit).

    The writer is not woken per statement: waking a thread for each one costs
    a request more, in interpreter-lock hand-offs, than the commit it saves. A
    crash loses at most the last ``interval_s`` of deferred writes, so only
    what may be lost that way (visit statistics, queue history, a lane's last
    length) is deferred.

    A batch that fails is written again row by row, so one bad row never takes
    the others with it: a row SQLite refuses for what it is (a wrong type, a
    broken constraint) is logged and counted in ``refused``; a row that cannot
    be written now (disk full, I/O error) is kept and retried every
    ``retry_s`` seconds (an attribute: tests of a full disk shorten it), and
    ``failing`` says why until it is written. ``interval_s`` is an attribute
    too: a test that needs writes to wait lengthens it.
    """

    MAX_RETRY_ROWS = 1_000_000  # beyond this the oldest are dropped (and counted), not memory

    def __init__(self, db: Database, interval_s: float = 0.05, retry_s: float = 1.0):
        self.db = db
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._pending: collections.deque[tuple[str, tuple]] = collections.deque()
        self._retry: list[tuple[str, tuple]] = []
        self._retry_at = 0.0
        self._retrying = 0
        self._flush_requested = threading.Event()
        self._written = threading.Condition()
        self._generation = 0
        self._busy = False
        self.refused = 0         # rows dropped for good: SQLite refused them as they are
        self.failing: str | None = None  # why rows are waiting to be retried, or None
        threading.Thread(target=self._run, name="posplugin-writer", daemon=True).start()

    @property
    def waiting(self) -> int:
        """Rows that failed to write and wait to be retried (or are being retried now)."""
        return len(self._retry) + self._retrying

    @property
    def pending(self) -> int:
        """Rows deferred and not yet tried."""
        return len(self._pending)

    @property
    def rounds(self) -> int:
        """How many rounds the writer has finished: it grows after each commit
        (and each interval with nothing to write)."""
        return self._generation

    def defer(self, sql: str, params: tuple) -> None:
        """Queue one statement for the writer thread."""
        self._pending.append((sql, params))

    def flush(self) -> None:
        """Return once every statement deferred so far is committed (or, when
        the disk refuses writes, has been tried and kept for a retry)."""
        with self._written:
            if not self._pending and not self._busy:
                return
            target = self._generation + 2  # the round under way may have missed ours
            self._flush_requested.set()
            while self._generation < target:
                self._written.wait(1.0)
                self._flush_requested.set()

    def _run(self) -> None:
        while True:
            self._flush_requested.wait(self.interval_s)
            self._flush_requested.clear()
            try:
                self._write_pending()
            except Exception:  # never let the writer thread die
                log.exception("the deferred writer failed; it carries on")
            with self._written:
                self._generation += 1
                self._written.notify_all()

    def _write_pending(self) -> None:
        self._busy = True  # before taking items, so flush() never sees them in neither place
        items = []
        if self._retry and time.monotonic() >= self._retry_at:
            self._retrying = len(self._retry)
            items, self._retry = self._retry, []
        while self._pending:
            items.append(self._pending.popleft())
        if not items:
            self._busy = False
            return
        try:
            with self.db.write() as conn:
                for sql, group in itertools.groupby(items, key=lambda item: item[0]):
                    conn.executemany(sql, [params for _, params in group])
            if not self._retry:
                self.failing = None
        except Exception as exc:
            log.warning("a batch of %d deferred writes failed (%s); writing them one by one",
                        len(items), exc)
            self._one_by_one(items)
        finally:
            self._retrying = 0
            self._busy = False

    def _one_by_one(self, items: list) -> None:
        for i, (sql, params) in enumerate(items):
            try:
                with self.db.write() as conn:
                    conn.execute(sql, params)
            except REFUSED_ROW as exc:
                self.refused += 1
                log.error("a deferred write was refused and dropped (%s: %s)", exc.__class__.__name__, exc)
            except Exception as exc:  # the disk, not the row: keep this one and the rest for later
                self.failing = f"deferred writes are failing ({exc}); {len(items) - i} kept for a retry"
                log.error("deferred writes are failing (%s); %d kept, retried every %.0f s",
                          exc, len(items) - i, self.retry_s)
                self._retry = items[i:] + self._retry
                self._retry_at = time.monotonic() + self.retry_s
                break
        else:
            if not self._retry:
                self.failing = None
        if len(self._retry) > self.MAX_RETRY_ROWS:
            dropped = len(self._retry) - self.MAX_RETRY_ROWS
            del self._retry[:dropped]
            self.refused += dropped
            log.error("dropped the %d oldest deferred writes: the disk has refused writes too long", dropped)


# What SQLite refuses because of the row itself (a dict where a value goes, a
# broken constraint, an integer past 64 bits): retrying would never help.
REFUSED_ROW = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               sqlite3.DataError, TypeError, ValueError, OverflowError)
