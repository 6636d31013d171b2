"""Head office: tier-list versions, store tokens, and the signed feed stores pull.

Its tables (versions, deltas, stores, tokens, reports) are in ``hq.db`` in its
data folder, or in PostgreSQL when ``hq_database_url`` is set; the folder holds
``feed/`` (snapshot and delta bodies) and ``hq-signing.key`` (the Ed25519
private key, never in the database and never sent anywhere; stores get only
the public key).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import IO, Iterable

from sqlalchemy import delete, desc, func, select, union

from ..errors import Conflict, ImportRefused, Unauthorized, ValidationError
from ..tiers import feed
from ..tiers.identity import Hasher
from ..tiers.lists import ListBuilder, TierRecord, read_rows
from ..timeutil import iso, system_clock
from ..tokens import Caller, digest, new_token
from .db import database_url, insert, open_engine, process_lock
from .experiment import Experiments
from .feedstore import FolderStore, open_store
from .figures import Figures
from .reports import Outcomes
from .schema import deltas, feed_manifest, hq_tokens, store_syncs, versions
from .stores import StoresExist, store_name

MANIFEST_TTL_S = 24 * 3600.0
# Deltas offered in the manifest: a store up to this many versions behind
# catches up by deltas; one further behind takes the snapshot.
DELTAS_KEPT = 30
STALE_AFTER_S = 3600.0
VERSION_COLUMNS = ("version", "created_at", "rows", "snapshot", "sha256", "bytes")


class HeadOffice:
    """A chain's head office: build with its data folder and the chain's
    identifier key; ``database_url`` (``postgresql://…``) moves its tables
    from the SQLite file in the folder to PostgreSQL.

    Nothing that matters lives in this object's memory: tokens, versions, the
    signed manifest and each store's last sync are in the database, so any
    number of processes may serve the same head office."""

    def __init__(self, data_dir: Path, id_key: str, *, default_region: str = "", clock=system_clock,
                 manifest_ttl_s: float = MANIFEST_TTL_S, stale_after_s: float = STALE_AFTER_S,
                 timezone=None, database_url: str = "", feed_store: str = "", feed_base_url: str = "",
                 s3_client=None):
        # Folders are made absolute once, at start: Flask's send_file reads a
        # relative path against the package, not the working folder.
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Bodies are written here first; a folder feed_store is written in
        # place, a bucket gets a copy of each and this stays the work folder.
        local = feed_store and not feed_store.startswith("s3://")
        self.feed_dir = Path(feed_store).expanduser().absolute() if local else self.data_dir / "feed"
        self.feed_dir.mkdir(parents=True, exist_ok=True)
        self.feed_store = open_store(str(self.feed_dir) if local else feed_store, self.feed_dir, s3_client)
        # Where stores download bodies, said in the signed manifest; empty
        # means head office's own /hq/v1/feed/ route.
        self.feed_base_url = feed_base_url
        self.engine = open_engine(_url(self.data_dir, database_url))
        self.key = feed.load_or_create_key(self.data_dir / "hq-signing.key")
        self.hasher = Hasher(id_key, default_region) if id_key else None
        self.id_key = id_key
        self.default_region = default_region
        self.clock = clock
        self.manifest_ttl_s = manifest_ttl_s
        self.stale_after_s = stale_after_s
        self.experiments = Experiments(self.engine, clock=clock)
        self.outcomes = Outcomes(self.engine, clock=clock, experiments=self.experiments)
        self.figures = Figures(self.engine, clock=clock, timezone=timezone)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def public_key(self) -> str:
        return feed.public_key_text(self.key)

    # -- tokens ------------------------------------------------------------

    def create_token(self, role: str, name: str) -> str:
        """A token for a store (``store``) or an administrator (``admin``).
        A name holds one live token: a second is refused (:class:`StoresExist`
        for a store, :class:`Conflict` for an administrator) until the first is
        revoked."""
        if role not in ("store", "admin"):
            raise ValidationError("role must be store or admin", field="role")
        try:
            name = store_name(name)
        except ValueError as exc:
            raise ValidationError(str(exc).replace("store's ", ""), field="name") from None
        return self._create_tokens(role, [name])[0]

    def add_stores(self, names: list[str]) -> list[str]:
        """A token for each of the new stores ``names`` (checked with
        :func:`posplugin.hq.stores.store_name`), all in one transaction;
        :class:`StoresExist` names those that exist already."""
        return self._create_tokens("store", names)

    def _create_tokens(self, role: str, names: list[str]) -> list[str]:
        tokens = [new_token("hq_") for _ in names]
        now = self.clock()
        # One process at a time across head office's (two `hq store add` at once must not both pass the check).
        with process_lock(self.engine, "tokens", self.data_dir), self.engine.begin() as conn:
            taken = set()
            for start in range(0, len(names), 1000):
                taken |= set(conn.scalars(select(hq_tokens.c.name).where(
                    hq_tokens.c.role == role, hq_tokens.c.name.in_(names[start:start + 1000]))))
            if taken:
                if role == "store":
                    raise StoresExist(taken)
                raise Conflict(f"a live {role} token named {sorted(taken)[0]!r} exists already; revoke it "
                               "(posplugin hq token revoke --name NAME) or choose another name")
            if names:
                conn.execute(hq_tokens.insert(), [{"name": name, "role": role, "token_hash": digest(token),
                                                   "created_at": now} for name, token in zip(names, tokens)])
        return tokens

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token named ``name`` (a store's or an admin's); returns
        how many. A store keeps its name, figures and reports: ``hq store add``
        with the same name gives it a new token."""
        with self.engine.begin() as conn:
            return conn.execute(delete(hq_tokens).where(hq_tokens.c.name == name)).rowcount

    def caller(self, token: str | None) -> Caller:
        """Who holds ``token``; raises :class:`Unauthorized`."""
        row = None
        if token:
            with self.engine.connect() as conn:
                row = conn.execute(select(hq_tokens.c.id, hq_tokens.c.name, hq_tokens.c.role)
                                   .where(hq_tokens.c.token_hash == digest(token))).first()
        if not row:
            raise Unauthorized("send a head office token: Authorization: Bearer TOKEN")
        return Caller(row[0], row[1], row[2])

    # -- versions ----------------------------------------------------------

    def import_csv(self, stream: IO[str]) -> dict:
        """A tier CSV as the next version: normalised and hashed with the chain
        key, opted-out customers dropped, refused whole with line numbers.
        Publishes its snapshot and the delta from the version before."""
        if self.hasher is None:
            raise ValidationError("head office needs the chain's identifier key (POSPLUGIN_ID_KEY)")

        def fill(builder: ListBuilder) -> None:
            bad = []
            for line, row in read_rows(stream, self.hasher):
                if isinstance(row, str):
                    bad.append((line, row))
                else:
                    builder.add(*row)
            if bad:
                raise ImportRefused(bad[:50], total_bad=len(bad))

        return self._new_version(fill, "hq")

    def publish_records(self, records: Iterable[tuple[bytes, TierRecord | None]], source: str = "build") -> dict:
        """The next version from ``(identifier hash, record)`` pairs (None: opted
        out), published like an import: snapshot, delta, signed manifest."""
        def fill(builder: ListBuilder) -> None:
            for key, record in records:
                builder.add(key, record)

        return self._new_version(fill, source)

    def _new_version(self, fill, source: str) -> dict:
        # Across processes (and machines, on PostgreSQL): `hq import` may run
        # beside any serving process's upload, and versions must not collide.
        with process_lock(self.engine, "import", self.data_dir):
            builder = ListBuilder(self.data_dir)
            try:
                fill(builder)
                previous = self.latest()
                version = (previous or {}).get("version", 0) + 1
                path, rows = builder.finish(version=version, source=source)
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
        snapshot, sha, size = _content_named(self.feed_dir, "snapshot", lambda out: _export(list_file, out))
        delta = None
        if previous and (self.feed_dir / previous["snapshot"]).exists():
            delta = self._write_delta(self.feed_dir / previous["snapshot"], snapshot,
                                      previous["version"], version)
        self.feed_store.put(snapshot)
        if delta:
            self.feed_store.put(self.feed_dir / delta["path"])
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(versions.insert().values(version=version, created_at=now, rows=rows,
                                                  snapshot=snapshot.name, sha256=sha, bytes=size))
            if delta:
                conn.execute(deltas.insert().values(
                    to_version=version, from_version=delta["from"], path=delta["path"], sha256=delta["sha256"],
                    bytes=delta["bytes"], upserts=delta["upserts"], deletes=delta["deletes"]))
            # Signed here, once, for every serving process.
            self._sign(conn, now)
        self._prune(version)
        return {"version": version, "rows": rows,
                "delta": {k: delta[k] for k in ("upserts", "deletes")} if delta else None}

    def _write_delta(self, old: Path, new: Path, old_version: int, version: int) -> dict:
        counts = []

        def write(temporary: Path) -> None:
            with open(old, encoding="utf-8", newline="\n") as a, open(new, encoding="utf-8", newline="\n") as b, \
                    open(temporary, "w", encoding="utf-8", newline="\n") as out:
                counts.extend(feed.write_delta(a, b, out))

        path, sha, size = _content_named(self.feed_dir, "delta", write)
        upserts, deletes = counts
        return {"from": old_version, "to": version, "path": path.name, "sha256": sha, "bytes": size,
                "upserts": upserts, "deletes": deletes}

    def _prune(self, version: int) -> None:
        """Remove bodies no manifest offers any more, here and in the feed
        store: snapshots before the previous version (a store may be
        mid-download of it) and deltas beyond the last DELTAS_KEPT."""
        with self.engine.connect() as conn:
            keep = set(conn.scalars(union(
                select(versions.c.snapshot).where(versions.c.version >= version - 1),
                select(deltas.c.path).where(deltas.c.to_version > version - DELTAS_KEPT))))
        # A bucket holds what stores download; the work folder then needs only
        # the newest snapshot, which the next delta is computed from.
        local = keep if isinstance(self.feed_store, FolderStore) else {(self.latest() or {}).get("snapshot")}
        for path in self.feed_dir.glob("*.tsv"):
            if path.name not in local:
                path.unlink(missing_ok=True)
        for name in self.feed_store.names() - keep:
            self.feed_store.delete(name)

    def feed_body(self, name: str) -> tuple[Path, bool] | None:
        """The file serving body ``name`` and whether it is content-named
        (immutable), or None. A version name (``snapshot-7.tsv``, from a
        manifest of an earlier release) serves its file if one was written
        under it, else the content-named body of that version."""
        if feed.CONTENT_NAME.match(name):
            path = self.feed_dir / name
            return (path, True) if path.is_file() else None
        by_version = feed.VERSION_NAME.match(name)
        if by_version is None:
            return None
        path = self.feed_dir / name
        if path.is_file():
            return path, False
        snapshot, start, end = by_version.groups()
        with self.engine.connect() as conn:
            found = (conn.scalar(select(versions.c.snapshot).where(versions.c.version == int(snapshot)))
                     if snapshot else conn.scalar(select(deltas.c.path).where(
                         deltas.c.from_version == int(start), deltas.c.to_version == int(end))))
        path = self.feed_dir / found if found else None
        return (path, False) if path is not None and path.is_file() else None

    def latest(self, conn=None) -> dict | None:
        if conn is None:
            with self.engine.connect() as conn:
                return self.latest(conn)
        row = conn.execute(select(*(versions.c[c] for c in VERSION_COLUMNS))
                           .order_by(desc(versions.c.version)).limit(1)).first()
        return dict(zip(VERSION_COLUMNS, row)) if row else None

    def versions(self, limit: int = 20) -> list[dict]:
        """The most recent versions with their delta sizes, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(versions.c.version, versions.c.created_at, versions.c.rows, versions.c.bytes,
                       deltas.c.upserts, deltas.c.deletes)
                .select_from(versions.outerjoin(deltas, deltas.c.to_version == versions.c.version))
                .order_by(desc(versions.c.version)).limit(limit)).all()
        return [{"version": r[0], "created_at": iso(r[1]), "rows": r[2], "bytes": r[3],
                 "delta": None if r[4] is None else {"upserts": r[4], "deletes": r[5]}} for r in rows]

    def _deltas(self, conn, version: int) -> list[dict]:
        rows = conn.execute(select(deltas.c.from_version, deltas.c.to_version, deltas.c.path, deltas.c.sha256,
                                   deltas.c.bytes)
                            .where(deltas.c.to_version > version - DELTAS_KEPT, deltas.c.to_version <= version)
                            .order_by(deltas.c.to_version))
        return [{"from": r[0], "to": r[1], "path": r[2], "sha256": r[3], "bytes": r[4]} for r in rows]

    def signed_manifest(self) -> bytes:
        """The current signed manifest, as every process serves it; re-signed
        once half its lifetime has passed."""
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(select(feed_manifest.c.renew_at, feed_manifest.c.body)
                               .where(feed_manifest.c.id == 1)).first()
            experiment = self.experiments.manifest_fields(conn)
        # The running experiment travels signed beside the list; a change re-signs.
        if row and now < row[0] and _carries(row[1], experiment):
            return row[1].encode()
        with self.engine.begin() as conn:
            return self._sign(conn, now).encode()

    def _sign(self, conn, now: float) -> str:
        latest = self.latest(conn)
        version = latest["version"] if latest else 0
        manifest = {"format": feed.FORMAT, "version": version, "created_at": now,
                    "expires_at": now + self.manifest_ttl_s, "rows": latest["rows"] if latest else 0,
                    "snapshot": None if not latest else {
                        "path": latest["snapshot"], "sha256": latest["sha256"], "bytes": latest["bytes"]},
                    "deltas": self._deltas(conn, version) if latest else [],
                    **self.experiments.manifest_fields(conn)}
        if self.feed_base_url:
            manifest["base_url"] = self.feed_base_url.rstrip("/") + "/"
        body = json.dumps(feed.sign(manifest, self.key))
        # Two processes re-signing at once both write; the later one wins and
        # both manifests verify, so stores notice nothing but a new ETag.
        upsert = insert(self.engine, feed_manifest).values(id=1, version=version,
                                                          renew_at=now + self.manifest_ttl_s / 2, body=body)
        conn.execute(upsert.on_conflict_do_update(index_elements=["id"], set_={
            "version": upsert.excluded.version, "renew_at": upsert.excluded.renew_at,
            "body": upsert.excluded.body}))
        return body

    # -- stores ------------------------------------------------------------

    def record_sync(self, store_name: str, list_version: int | None) -> None:
        """A store asked for the manifest, holding ``list_version``."""
        upsert = insert(self.engine, store_syncs).values(name=store_name, last_sync_at=self.clock(),
                                                         list_version=list_version)
        upsert = upsert.on_conflict_do_update(index_elements=["name"], set_={
            "last_sync_at": upsert.excluded.last_sync_at,
            "list_version": func.coalesce(upsert.excluded.list_version, store_syncs.c.list_version)})
        with self.engine.begin() as conn:
            conn.execute(upsert)

    def receive_report(self, store_name: str, batch: str, hours: list, arms: list | None = None) -> bool:
        """Keep a store's report (hours, and the experiment's ``arms``); a batch
        this store sent before is not counted again (False)."""
        return self.outcomes.receive(store_name, batch, hours, arms)

    def store_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(select(hq_tokens.c.name).where(hq_tokens.c.role == "store")
                                     .distinct().order_by(hq_tokens.c.name)))

    def stores(self, days: int = 7) -> list[dict]:
        """Every store: its list version, last sync, whether it is stale or
        behind, and its figures over the last ``days`` days."""
        return self.stores_and_totals(days)[0]

    def stores_and_totals(self, days: int = 7) -> tuple[list[dict], dict]:
        """:meth:`stores`, and the chain's figures over all of them (sums, and
        medians over every store's durations), read once for both."""
        latest = (self.latest() or {}).get("version")
        now = self.clock()
        names = select(hq_tokens.c.name).where(hq_tokens.c.role == "store").distinct().subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(select(names.c.name, store_syncs.c.last_sync_at, store_syncs.c.list_version)
                                .select_from(names.outerjoin(store_syncs, store_syncs.c.name == names.c.name))
                                .order_by(names.c.name)).all()
        figures, chain = self.figures.of_stores([name for name, _, _ in rows], now - days * 86400)
        return [{"name": name, "list_version": version, "last_sync_at": iso(synced),
                 "stale": synced is None or now - synced > self.stale_after_s,
                 "behind": latest is not None and (version or 0) < latest,
                 "figures": figures[name]}
                for name, synced, version in rows], chain


def _url(data_dir: Path, url: str) -> str:
    return database_url(data_dir, url)


def _carries(body: str, experiment: dict) -> bool:
    """Whether a signed manifest names exactly ``experiment`` (or none)."""
    manifest = json.loads(body)["manifest"]
    return {k: manifest[k] for k in ("experiment", "holdout_share") if k in manifest} == experiment


def _export(list_file: Path, temporary: Path) -> None:
    """Write a list file's rows, sorted by hash, as a snapshot body."""
    conn = sqlite3.connect(f"file:{list_file.as_posix()}?mode=ro", uri=True)
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            for key, followers, rate, niches in conn.execute(
                    "SELECT hash, followers, engagement_rate, niches FROM tiers ORDER BY hash"):
                out.write(feed.snapshot_line(key, followers, rate, niches))
    finally:
        conn.close()


def _content_named(folder: Path, kind: str, write) -> tuple[Path, str, int]:
    """A body ``write(path)`` writes, named by its SHA-256 (``kind-<sha256>.tsv``)
    once whole: the same name is always the same bytes, so a CDN may keep it
    for ever, even when a head office rebuilt from scratch reuses versions.
    Returns (path, sha256, bytes)."""
    temporary = folder / f"{kind}-{secrets.token_hex(8)}.tmp"
    try:
        write(temporary)
        sha, size = feed.sha256_file(temporary)
        path = folder / feed.body_name(kind, sha)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path, sha, size
