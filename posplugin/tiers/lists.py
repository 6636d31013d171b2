"""Tier lists: read the CSV, build a list file, switch to it atomically, look up.

Each list lives in its own SQLite file (``tiers-*.db`` in the data folder). An
import builds a new file beside the one in use, and only a finished, synced
file is made current, by atomically replacing the small pointer file
``tiers-current`` that names it. Lookups therefore see the old list or the new
one, never half of either, and a refused or interrupted import leaves the old
list serving. A list applied by another process is seen by a running service at
a lookup soon after: lookups check the pointer with one ``stat`` at most every
``POINTER_CHECK_S`` per thread (a list applied in this process is seen at once).
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from .. import texts
from ..db import Database, connect_readonly
from ..errors import InvalidIdentifier, ListShrinks
from ..timeutil import iso
from . import csvfile, identity
from .csvfile import MAX_REPORTED, Problems, decimal, whole

# How often a thread looks whether another process switched the list (seconds).
POINTER_CHECK_S = 0.25

log = logging.getLogger("posplugin.tiers")

COLUMNS = ("identifier_type", "identifier", "followers", "engagement_rate", "niches", "consent")
CONSENT = {"yes": True, "true": True, "1": True, "ja": True,
           "no": False, "false": False, "0": False, "nei": False}
MAX_FOLLOWERS = 10_000_000_000
MAX_NICHES = 20
# A list file's rows go in sorted by key, this many at a time: sorted inserts
# touch each page of the file once per batch instead of once per row (1,000,000
# rows 10.0 -> 8.1 s); the batch (about 10 MB) is what an import holds.
BATCH = 50_000
FILE_GLOB = "tiers-*.db"
POINTER = "tiers-current"


class TierRecord(NamedTuple):
    """One customer's figures on a list (a tuple: made for every row imported and every lookup)."""
    followers: int
    engagement_rate: float
    niches: tuple[str, ...]


@dataclass(frozen=True)
class ListInfo:
    version: int | None
    rows: int
    source: str | None
    applied_at: float | None
    synced_at: float | None

    def to_json(self) -> dict:
        return {"version": self.version, "rows": self.rows, "source": self.source,
                "applied_at": iso(self.applied_at), "synced_at": iso(self.synced_at)}


@dataclass
class ImportResult:
    rows: int = 0
    opted_out: int = 0
    duplicates: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    skipped_total: int = 0
    version: int | None = None
    notes: list[str] = field(default_factory=list)


# -- reading the CSV ---------------------------------------------------------

def parse_engagement(text: str) -> float:
    """``0.062``, ``6.2%`` or with a decimal comma ``0,062`` / ``6,2%`` → 0.062;
    raises ValueError outside 0–1."""
    try:
        rate = float(text)  # the common case, at once (float() trims spaces itself)
    except ValueError:
        text = text.strip()
        try:
            rate = decimal(text[:-1]) / 100 if text.endswith("%") else decimal(text)
        except ValueError:
            rate = float("nan")
    if not 0 <= rate <= 1:
        raise ValueError(f"engagement_rate must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return rate


def parse_followers(text: str) -> int:
    try:
        followers = whole(text)
    except ValueError:
        raise ValueError(f"followers must be a whole number, got {text.strip()!r}") from None
    if not 0 <= followers <= MAX_FOLLOWERS:
        raise ValueError(f"followers must be between 0 and {MAX_FOLLOWERS:,}, got {followers}")
    return followers


# Few distinct niche cells recur across a whole list: each is parsed, and
# encoded for the list file, once.
@functools.lru_cache(maxsize=4096)
def parse_niches(text: str) -> tuple[str, ...]:
    niches = tuple(n.strip() for n in text.split(";") if n.strip())
    if len(niches) > MAX_NICHES or any(len(n) > 64 for n in niches):
        raise ValueError(f"niches: at most {MAX_NICHES}, each at most 64 characters")
    return niches


def niches_json(niches: tuple[str, ...]) -> str:
    """The list file's column for ``niches`` (a JSON array)."""
    try:
        return _niches_json(niches)
    except TypeError:  # a list, not a tuple: nothing to cache it by
        return json.dumps(list(niches), ensure_ascii=False)


@functools.lru_cache(maxsize=4096)
def _niches_json(niches: tuple[str, ...]) -> str:
    return json.dumps(niches, ensure_ascii=False)


def parse_consent(text: str) -> bool:
    consent = CONSENT.get(text.strip().lower())
    if consent is None:
        raise ValueError(f"consent must be yes/no (also ja/nei, true/false, 1/0), got {text!r}")
    return consent


def read_rows(stream: Iterable[bytes | str], hasher: identity.Hasher) -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, row)`` for each data row of a tier CSV.

    ``row`` is ``(hash, TierRecord | None)`` (None when the customer opted out)
    or, for a bad row, the reason as a string. The header is checked first and
    a file without the columns raises :class:`ImportRefused` at once.
    """
    return csvfile.CsvReader(stream, COLUMNS).rows(row_parser(hasher))


def row_parser(hasher: identity.Hasher):
    """``parse(cells, at)`` for :meth:`CsvReader.rows`: ``(hash, TierRecord | None)``.
    A bad row raises ValueError naming every problem it has, not only the first."""
    def parse(cells: list[str], at: dict):
        # Nearly every row is good: read it straight through, and only a row
        # that fails is read again to name all its problems.
        try:
            consent = parse_consent(cells[at["consent"]])
            key = _identifier(hasher, cells[at["identifier_type"]], cells[at["identifier"]])
            if consent is False:  # an opted-out row needs only its identifier: it is never stored
                return key, None
            return key, TierRecord(parse_followers(cells[at["followers"]]),
                                   parse_engagement(cells[at["engagement_rate"]]),
                                   parse_niches(cells[at["niches"]]))
        except ValueError:
            return every_problem(cells, at)

    def every_problem(cells: list[str], at: dict):
        problems: list[str] = []

        def checked(read, *args):
            try:
                return read(*args)
            except ValueError as exc:
                problems.append(str(exc))
                return None

        consent = checked(parse_consent, cells[at["consent"]])
        key = checked(_identifier, hasher, cells[at["identifier_type"]], cells[at["identifier"]])
        # An opted-out row needs only its identifier: it is never stored.
        figures = None if consent is False else (
            checked(parse_followers, cells[at["followers"]]), checked(parse_engagement, cells[at["engagement_rate"]]),
            checked(parse_niches, cells[at["niches"]]))
        if problems:
            raise ValueError("; ".join(problems))
        return key, None if figures is None else TierRecord(*figures)

    return parse


def _identifier(hasher: identity.Hasher, id_type: str, value: str) -> bytes:
    """The keyed hash of one row's identifier; ValueError saying what is wrong.
    A bad type is echoed (it is not personal); a bad identifier never is."""
    kind = id_type.strip().lower()
    if kind not in identity.TYPES:
        raise ValueError(f"identifier_type {id_type.strip()!r} is not one of {', '.join(identity.TYPES)}")
    try:
        return hasher(kind, value)
    except InvalidIdentifier as exc:
        raise ValueError(f"identifier: {exc.message}") from None


# -- list files --------------------------------------------------------------

LIST_SCHEMA = """
CREATE TABLE tiers (
    hash BLOB PRIMARY KEY,
    followers INTEGER NOT NULL,
    engagement_rate REAL NOT NULL,
    niches TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""


_key = operator.itemgetter(0)


def _row(key: bytes, record: TierRecord) -> tuple:
    """A list file's row of ``tiers`` for one customer."""
    return key, record.followers, record.engagement_rate, niches_json(record.niches)


def _write_sorted(conn: sqlite3.Connection, rows: list) -> None:
    """Insert ``rows`` in key order; a later row of the same customer replaces
    an earlier one (the sort is stable: a customer's rows keep their order)."""
    rows.sort(key=_key)
    conn.executemany("INSERT OR REPLACE INTO tiers VALUES (?, ?, ?, ?)", rows)


class ListBuilder:
    """Builds a new list file. Rows go in through :meth:`add`; :meth:`finish`
    returns the finished file's path; :meth:`discard` removes it."""

    def __init__(self, data_dir: Path):
        self.path = _new_list_path(data_dir)
        self.conn = _open_for_build(self.path)
        self.conn.executescript(LIST_SCHEMA)
        self.conn.execute("CREATE TEMP TABLE opted_out (hash BLOB)")
        self.conn.execute("BEGIN")
        self.added = 0
        self.opted_out = 0
        self._batch: list = []
        self._out: list = []

    def add(self, key: bytes, record: TierRecord | None) -> None:
        """Add one customer; ``None`` means opted out, which wins over any row."""
        if record is None:
            self._out.append((key,))
            self.opted_out += 1
        else:
            self._batch.append(_row(key, record))
            self.added += 1
        if len(self._batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        # Raw sqlite3 executemany: bulk import of millions of rows is measured in benchmarks/.
        if self._batch:
            _write_sorted(self.conn, self._batch)
            self._batch.clear()
        if self._out:
            self.conn.executemany("INSERT INTO opted_out VALUES (?)", self._out)
            self._out.clear()

    def finish(self, *, version: int, source: str, synced_at: float | None = None) -> tuple[Path, int]:
        """Sort rows into the list (later rows win), apply opt-outs, sync to disk."""
        self.flush()
        self.conn.execute("DELETE FROM tiers WHERE hash IN (SELECT hash FROM opted_out)")
        rows = _seal(self.conn, self.path, version=version, source=source, synced_at=synced_at,
                     drop=("opted_out",))
        return self.path, rows

    def discard(self) -> None:
        _discard(self.conn, self.path)


class ListPatcher:
    """A new list file made from an existing one plus a delta's changes:
    :meth:`upsert` and :meth:`remove`, then :meth:`finish` or :meth:`discard`."""

    def __init__(self, data_dir: Path, base: Path):
        self.path = _new_list_path(data_dir)
        # A finished list file is never written again, so a byte copy is a
        # consistent copy even while lookups read it.
        shutil.copyfile(base, self.path)
        self.conn = _open_for_build(self.path)
        self.conn.execute("BEGIN")
        self._upserts: list = []
        self._removes: list = []

    def upsert(self, key: bytes, record: TierRecord) -> None:
        self._upserts.append(_row(key, record))
        if len(self._upserts) >= BATCH:
            self.flush()

    def remove(self, key: bytes) -> None:
        self._removes.append((key,))
        if len(self._removes) >= BATCH:
            self.flush()

    def flush(self) -> None:
        # Deletes first: within one delta a key is either upserted or removed.
        self.conn.executemany("DELETE FROM tiers WHERE hash = ?", self._removes)
        _write_sorted(self.conn, self._upserts)
        self._removes.clear()
        self._upserts.clear()

    def finish(self, *, version: int, source: str, synced_at: float | None = None) -> tuple[Path, int]:
        self.flush()
        return self.path, _seal(self.conn, self.path, version=version, source=source, synced_at=synced_at)

    def discard(self) -> None:
        _discard(self.conn, self.path)


def _new_list_path(data_dir: Path) -> Path:
    return Path(data_dir) / f"tiers-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.db"


def _open_for_build(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    # Nothing reads this file until it is finished, and a crash discards it,
    # so the build skips journalling; _seal() syncs it to disk.
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                       "PRAGMA temp_store=FILE; PRAGMA cache_size=-8000;")
    return conn


def _seal(conn: sqlite3.Connection, path: Path, *, version: int, source: str, synced_at: float | None,
          drop: tuple[str, ...] = ()) -> int:
    """Write the list's meta, commit, close and sync the file; returns its row count."""
    rows = conn.execute("SELECT count(*) FROM tiers").fetchone()[0]
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
        ("version", version), ("rows", rows), ("source", source),
        ("applied_at", time.time()), ("synced_at", synced_at)])
    conn.execute("COMMIT")
    for table in drop:
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    _fsync(path)
    return rows


def _discard(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.close()
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with _ignore_missing():
                os.remove(str(path) + suffix)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _ignore_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is not None and issubclass(kind, OSError)


# -- the current list --------------------------------------------------------

def _open_list(path: Path) -> sqlite3.Connection:
    """A read-only connection to a list file, checked to be one (its tables
    read): junk or a zero-length file raises sqlite3.DatabaseError here."""
    conn = connect_readonly(path)
    try:
        conn.execute("SELECT count(*) FROM meta").fetchone()
        conn.execute("SELECT hash FROM tiers LIMIT 1").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


@functools.lru_cache(maxsize=4096)
def niches_of(text: str) -> tuple[str, ...]:
    """A list row's niches column (a JSON array) as a tuple."""
    # Few distinct niche sets recur across a whole list: decoded once each, off the till's path.
    return tuple(json.loads(text))


class TierLists:
    """The store's tier list: which file is current, switching, and lookups."""

    def __init__(self, db: Database):
        self.db = db
        self.data_dir = db.path.parent
        self.pointer = self.data_dir / POINTER
        self._local = threading.local()
        # Bumped by activate(): a switch made in this process is seen at the next lookup.
        self._generation = 0
        self.damage: str | None = None  # why the current list cannot be read, for /healthz

    def current_file(self) -> Path | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError) as exc:
            self._damaged(self.pointer, exc)
            return None
        if not name or "/" in name or "\\" in name or not name.startswith("tiers-"):
            if name:
                self._damaged(self.pointer, ValueError("it does not name a list file"))
            return None
        return self.data_dir / name

    def _damaged(self, path: Path, exc: Exception) -> None:
        """Say loudly, once per damage, that the current list cannot be read."""
        message = (f"the current tier list {path.name} is damaged ({str(exc)[:120]}); serving the "
                   "last good list where it is still open, else everyone as everyday, until the "
                   "next tiers import or sync replaces it")
        if self.damage != message:
            log.error(message)
        self.damage = message

    def unusable(self) -> str | None:
        """Why the current list cannot serve, or None when it can (or there is
        none). Opens it afresh: a thread may still hold the list that was good
        before the file was damaged, and :meth:`info` would show that one."""
        path = self.current_file()
        if path is None:
            return self.damage  # the pointer itself may be what is damaged
        try:
            _open_list(path).close()
        except sqlite3.DatabaseError as exc:
            self._damaged(path, exc)
            return self.damage
        return self.damage if self.damage and path.name in self.damage else None

    def activate(self, path: Path) -> None:
        """Make the finished list file at ``path`` current, atomically."""
        previous = self.current_file()
        temporary = self.pointer.with_name(f"{POINTER}.{uuid.uuid4().hex[:8]}.tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(Path(path).name)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.pointer)
        _fsync_dir(self.data_dir)
        self._generation += 1
        if previous and previous != Path(path):
            # Another thread or process may still read it; where the OS refuses
            # (Windows), cleanup() retries later.
            with _ignore_missing():
                os.remove(previous)

    def cleanup(self, older_than_s: float = 3600) -> int:
        """Remove list files that are not current and were last written long ago,
        and old download folders: leftovers of interrupted imports and syncs.
        Returns how many were removed."""
        current = self.current_file()
        removed = 0
        for folder in self.data_dir.glob("sync-*"):
            if folder.is_dir() and time.time() - folder.stat().st_mtime > older_than_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        for path in list(self.data_dir.glob(FILE_GLOB)) + list(self.data_dir.glob(POINTER + ".*.tmp")):
            if path != current and time.time() - path.stat().st_mtime > older_than_s:
                with _ignore_missing():
                    os.remove(path)
                    removed += 1
        return removed

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's connection to the current list, reopened when the pointer changes."""
        local = self._local
        now = time.monotonic()
        if (getattr(local, "generation", None) == self._generation
                and now - getattr(local, "checked", -POINTER_CHECK_S) < POINTER_CHECK_S):
            # A stat per lookup was a quarter of identify's time; another process's switch waits this long.
            return getattr(local, "conn", None)
        local.generation, local.checked = self._generation, now
        try:
            st = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        # os.replace gives the pointer a new inode, so (inode, mtime) changes on every switch.
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if getattr(local, "stamp", None) != stamp:
            local.stamp = stamp  # a damaged list is not reopened on every lookup
            path = self.current_file()
            if path is None:
                self._drop(local)
                return None
            try:
                conn = _open_list(path)
            except sqlite3.DatabaseError as exc:
                # Keep this thread's last good list if it has one: better than everyday.
                self._damaged(path, exc)
                return getattr(local, "conn", None)
            self._drop(local)
            local.conn = conn
            self.damage = None
        return getattr(local, "conn", None)

    @staticmethod
    def _drop(local) -> None:
        if getattr(local, "conn", None) is not None:
            local.conn.close()
        local.conn = None

    def lookup(self, key: bytes) -> TierRecord | None:
        """The current list's record for a hashed identifier, or None."""
        conn = self._reader()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT followers, engagement_rate, niches FROM tiers WHERE hash = ?",
                               (key,)).fetchone()
        except sqlite3.DatabaseError as exc:  # damaged under an open connection
            self._damaged(self.current_file() or self.pointer, exc)
            return None
        if row is None:
            return None
        return TierRecord(row[0], row[1], niches_of(row[2]))

    def info(self) -> ListInfo:
        """Version, size and times of the current list."""
        conn = self._reader()
        if conn is None:
            return ListInfo(None, 0, None, None, None)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._damaged(self.current_file() or self.pointer, exc)
            return ListInfo(None, 0, None, None, None)
        return ListInfo(meta.get("version"), meta.get("rows", 0), meta.get("source"),
                        meta.get("applied_at"), meta.get("synced_at"))


def import_csv(lists: TierLists, stream: Iterable[bytes | str], hasher: identity.Hasher, *,
               skip_bad: bool = False, version: int | None = None, source: str = "local",
               max_reported: int = MAX_REPORTED, max_loss: float | None = None) -> ImportResult:
    """Load a tier CSV as the new current list.

    With bad rows the file is refused whole (:class:`ImportRefused` with line
    numbers) unless ``skip_bad``; the old list keeps serving either way. With
    ``max_loss`` (a share, 0–1), a list with no rows at all, or one that has
    lost more than that share of the current list's rows, is refused
    (:class:`ListShrinks`): a file cut short, or the wrong file.
    """
    current = lists.info()
    if version is None:
        version = (current.version or 0) + 1
    reader = csvfile.CsvReader(stream, COLUMNS)
    problems = Problems(max_reported)
    builder = ListBuilder(lists.data_dir)
    try:
        for row in problems.good(reader.rows(row_parser(hasher))):
            builder.add(*row)
        if problems and not skip_bad:
            problems.refuse()
        added = builder.added
        path, rows = builder.finish(version=version, source=source)
        if max_loss is not None:
            _refuse_shrinking(rows, current, max_loss, problems.total)
    except BaseException:
        builder.discard()
        raise
    lists.activate(path)
    return ImportResult(rows=rows, opted_out=builder.opted_out,
                        duplicates=max(0, added - rows - _removed_by_optout(added, rows, builder.opted_out)),
                        skipped=problems.kept, skipped_total=problems.total, version=version,
                        notes=reader.notes)


def _refuse_shrinking(rows: int, current, max_loss: float, skipped: int) -> None:
    """Raise :class:`ListShrinks` for a new list of ``rows`` that is empty, or
    smaller than the ``current`` list by more than ``max_loss`` of its rows."""
    before = current.rows or 0
    if rows and rows >= before * (1 - max_loss):
        return
    new = texts.count(rows, "row") + (f" ({texts.count(skipped, 'bad row')} skipped)" if skipped else "")
    if before:
        where = f"the list in use (version {current.version}) has {texts.count(before, 'row')}; it keeps serving"
    else:
        where = "nothing was loaded"
    raise ListShrinks(f"the new list has {new}, and {where}. If that is what you want, run it again with "
                      "--allow-smaller")


def _removed_by_optout(added: int, rows: int, opted_out: int) -> int:
    # Without tracking which opt-outs matched a row, attribute the shortfall to
    # opt-outs first; what remains were duplicates.
    return min(opted_out, added - rows)
