"""Head office: tier-list versions, store tokens, and the signed feed stores pull.

Its own data folder: ``hq.db`` (versions, deltas, stores, tokens, reports),
``feed/`` (snapshot and delta bodies) and ``hq-signing.key`` (the Ed25519
private key, never in the database and never sent anywhere; stores get only
the public key).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import IO

from filelock import FileLock

from ..db import Database
from ..errors import ImportRefused, Unauthorized, ValidationError
from ..store import auth
from ..tiers import feed
from ..tiers.identity import Hasher
from ..tiers.lists import ListBuilder, read_rows
from ..timeutil import iso, system_clock
from .experiment import Experiments
from .reports import Outcomes
from .db import database_url, open_engine

MANIFEST_TTL_S = 24 * 3600.0
# Deltas offered in the manifest: a store up to this many versions behind
# catches up by deltas; one further behind takes the snapshot.
DELTAS_KEPT = 30
STALE_AFTER_S = 3600.0


class HeadOffice:
    """A chain's head office: build with its data folder and the chain's identifier key."""

    def __init__(self, data_dir: Path, id_key: str, *, default_region: str = "", clock=system_clock,
                 manifest_ttl_s: float = MANIFEST_TTL_S, stale_after_s: float = STALE_AFTER_S,
                 timezone=None):
        self.data_dir = Path(data_dir)
        self.feed_dir = self.data_dir / "feed"
        self.feed_dir.mkdir(parents=True, exist_ok=True)
        # The tables come from the SQLAlchemy schema; the queries below still
        # run on sqlite3 until they move onto the engine.
        self.engine = open_engine(database_url(self.data_dir))
        self.db = Database(self.data_dir / "hq.db", [])
        self.key = feed.load_or_create_key(self.data_dir / "hq-signing.key")
        self.hasher = Hasher(id_key, default_region) if id_key else None
        self.clock = clock
        self.manifest_ttl_s = manifest_ttl_s
        self.stale_after_s = stale_after_s
        self.outcomes = Outcomes(self.db, clock=clock, timezone=timezone)
        self.experiments = Experiments(self.engine, clock=clock)
        self._signed: tuple[float, int | None, bytes] | None = None
        self._lock = threading.Lock()
        # Across processes too: `hq import` may run beside `hq serve`'s uploads.
        self._import_lock = FileLock(self.data_dir / "import.lock")

    def close(self) -> None:
        self.db.close()
        self.engine.dispose()

    @property
    def public_key(self) -> str:
        return feed.public_key_text(self.key)

    # -- tokens ------------------------------------------------------------

    def create_token(self, role: str, name: str) -> str:
        """A token for a store (``store``) or an administrator (``admin``)."""
        if role not in ("store", "admin"):
            raise ValidationError("role must be store or admin", field="role")
        token = "hq_" + secrets.token_urlsafe(24)
        with self.db.write() as conn:
            conn.execute("INSERT INTO hq_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                         (name, role, auth.digest(token), self.clock()))
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token named ``name`` (a store's or an admin's); returns
        how many. A store keeps its name, figures and reports: ``hq store add``
        with the same name gives it a new token."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM hq_tokens WHERE name = ?", (name,)).rowcount

    def caller(self, token: str | None) -> auth.Caller:
        """Who holds ``token``; raises :class:`Unauthorized`."""
        row = token and self.db.execute("SELECT id, name, role FROM hq_tokens WHERE token_hash = ?",
                                        (auth.digest(token),)).fetchone()
        if not row:
            raise Unauthorized("send a head office token: Authorization: Bearer TOKEN")
        return auth.Caller(row[0], row[1], row[2])

    # -- versions ----------------------------------------------------------

    def import_csv(self, stream: IO[str]) -> dict:
        """A tier CSV as the next version: normalised and hashed with the chain
        key, opted-out customers dropped, refused whole with line numbers.
        Publishes its snapshot and the delta from the version before."""
        if self.hasher is None:
            raise ValidationError("head office needs the chain's identifier key (POSPLUGIN_ID_KEY)")
        with self._import_lock:
            builder = ListBuilder(self.data_dir)
            bad = []
            try:
                for line, row in read_rows(stream, self.hasher):
                    if isinstance(row, str):
                        bad.append((line, row))
                    else:
                        builder.add(*row)
                if bad:
                    raise ImportRefused(bad[:50], total_bad=len(bad))
                previous = self.latest()
                version = (previous or {}).get("version", 0) + 1
                path, rows = builder.finish(version=version, source="hq")
            except BaseException:
                builder.discard()
                raise
            try:
                return self._publish(path, version, rows, previous)
            finally:
                path.unlink(missing_ok=True)

    def _publish(self, list_file: Path, version: int, rows: int, previous: dict | None) -> dict:
        # Bodies are written first and the version row last, so a crash leaves
        # at most unreferenced files, never a manifest naming a missing body.
        snapshot = self.feed_dir / f"snapshot-{version}.tsv"
        _export(list_file, snapshot)
        sha, size = feed.sha256_file(snapshot)
        delta = None
        if previous and (self.feed_dir / previous["snapshot"]).exists():
            delta = self._write_delta(self.feed_dir / previous["snapshot"], snapshot,
                                      previous["version"], version)
        with self.db.write() as conn:
            conn.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                         (version, self.clock(), rows, snapshot.name, sha, size))
            if delta:
                conn.execute("INSERT INTO deltas VALUES (:to, :from, :path, :sha256, :bytes, :upserts, :deletes)",
                             delta)
        self._prune(version)
        return {"version": version, "rows": rows,
                "delta": {k: delta[k] for k in ("upserts", "deletes")} if delta else None}

    def _write_delta(self, old: Path, new: Path, old_version: int, version: int) -> dict:
        path = self.feed_dir / f"delta-{old_version}-{version}.tsv"
        temporary = path.with_suffix(".tmp")
        with open(old, encoding="utf-8", newline="\n") as a, open(new, encoding="utf-8", newline="\n") as b, \
                open(temporary, "w", encoding="utf-8", newline="\n") as out:
            upserts, deletes = feed.write_delta(a, b, out)
        temporary.replace(path)
        sha, size = feed.sha256_file(path)
        return {"from": old_version, "to": version, "path": path.name, "sha256": sha, "bytes": size,
                "upserts": upserts, "deletes": deletes}

    def _prune(self, version: int) -> None:
        """Remove bodies no manifest offers any more: snapshots before the
        previous version (a store may be mid-download of it) and old deltas."""
        keep = {name for (name,) in self.db.execute(
            "SELECT snapshot FROM versions WHERE version >= ? UNION "
            "SELECT path FROM deltas WHERE to_version > ?", (version - 1, version - DELTAS_KEPT))}
        for path in self.feed_dir.glob("*.tsv"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def latest(self) -> dict | None:
        row = self.db.execute("SELECT version, created_at, rows, snapshot, sha256, bytes FROM versions"
                              " ORDER BY version DESC LIMIT 1").fetchone()
        return dict(zip(("version", "created_at", "rows", "snapshot", "sha256", "bytes"), row)) if row else None

    def versions(self, limit: int = 20) -> list[dict]:
        """The most recent versions with their delta sizes, newest first."""
        rows = self.db.execute(
            "SELECT v.version, v.created_at, v.rows, v.bytes, d.upserts, d.deletes FROM versions v"
            " LEFT JOIN deltas d ON d.to_version = v.version ORDER BY v.version DESC LIMIT ?", (limit,))
        return [{"version": r[0], "created_at": iso(r[1]), "rows": r[2], "bytes": r[3],
                 "delta": None if r[4] is None else {"upserts": r[4], "deletes": r[5]}} for r in rows]

    def _deltas(self, version: int) -> list[dict]:
        rows = self.db.execute("SELECT from_version, to_version, path, sha256, bytes FROM deltas"
                               " WHERE to_version > ? AND to_version <= ? ORDER BY to_version",
                               (version - DELTAS_KEPT, version))
        return [{"from": r[0], "to": r[1], "path": r[2], "sha256": r[3], "bytes": r[4]} for r in rows]

    def signed_manifest(self) -> bytes:
        """The current signed manifest, re-signed once half its lifetime has passed."""
        now = self.clock()
        latest = self.latest()
        version = latest and latest["version"]
        # The running experiment travels signed beside the list; a change re-signs.
        experiment = self.experiments.manifest_fields()
        with self._lock:
            if self._signed and self._signed[1] == (version, experiment) and now < self._signed[0]:
                return self._signed[2]
            manifest = {"format": feed.FORMAT, "version": version or 0, "created_at": now,
                        "expires_at": now + self.manifest_ttl_s, "rows": latest["rows"] if latest else 0,
                        "snapshot": None if not latest else {
                            "path": latest["snapshot"], "sha256": latest["sha256"], "bytes": latest["bytes"]},
                        "deltas": self._deltas(version) if latest else [], **experiment}
            body = json.dumps(feed.sign(manifest, self.key)).encode()
            self._signed = (now + self.manifest_ttl_s / 2, (version, experiment), body)
            return body

    # -- stores ------------------------------------------------------------

    def record_sync(self, store_name: str, list_version: int | None) -> None:
        """A store asked for the manifest, holding ``list_version``."""
        with self.db.write() as conn:
            conn.execute("INSERT INTO store_syncs (name, last_sync_at, list_version) VALUES (?, ?, ?)"
                         " ON CONFLICT (name) DO UPDATE SET last_sync_at = excluded.last_sync_at,"
                         " list_version = coalesce(excluded.list_version, list_version)",
                         (store_name, self.clock(), list_version))

    def receive_report(self, store_name: str, batch: str, hours: list) -> bool:
        """Keep a store's report; a batch already received is not counted again."""
        return self.outcomes.receive(store_name, batch, hours)

    def store_names(self) -> list[str]:
        return [name for (name,) in self.db.execute(
            "SELECT DISTINCT name FROM hq_tokens WHERE role = 'store' ORDER BY name")]

    def stores(self, days: int = 7) -> list[dict]:
        """Every store: its list version, last sync, whether it is stale or
        behind, and its figures over the last ``days`` days."""
        latest = (self.latest() or {}).get("version")
        now = self.clock()
        rows = self.db.execute("SELECT t.name, s.last_sync_at, s.list_version FROM hq_tokens t"
                               " LEFT JOIN store_syncs s ON s.name = t.name WHERE t.role = 'store'"
                               " GROUP BY t.name ORDER BY t.name")
        since = now - days * 86400
        return [{"name": name, "list_version": version, "last_sync_at": iso(synced),
                 "stale": synced is None or now - synced > self.stale_after_s,
                 "behind": latest is not None and (version or 0) < latest,
                 "figures": self.outcomes.figures(name, since)}
                for name, synced, version in rows]


def _export(list_file: Path, snapshot: Path) -> None:
    """Write a list file's rows, sorted by hash, as a snapshot body."""
    conn = sqlite3.connect(f"file:{list_file.as_posix()}?mode=ro", uri=True)
    temporary = snapshot.with_suffix(".tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            for key, followers, rate, niches in conn.execute(
                    "SELECT hash, followers, engagement_rate, niches FROM tiers ORDER BY hash"):
                out.write(feed.snapshot_line(key, followers, rate, niches))
    finally:
        conn.close()
    temporary.replace(snapshot)
