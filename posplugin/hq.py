"""Head office: tier-list versions, store tokens, and the signed feed stores pull.

Its own data folder: ``hq.db`` (versions, stores, tokens), ``feed/`` (snapshot
bodies) and ``hq-signing.key`` (the Ed25519 private key, never in the database
and never sent anywhere; stores get only the public key).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from pathlib import Path
from typing import IO

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from . import feed
from .db import Database, migrate
from .errors import Forbidden, NotFound, Unauthorized, ValidationError
from .identity import Hasher
from .tiers import ListBuilder, read_rows
from .timeutil import iso, system_clock
from .web import handle_error

MANIFEST_TTL_S = 24 * 3600.0
HQ_MIGRATIONS = [("hq", """
    CREATE TABLE versions (
        version INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        rows INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL
    );
    CREATE TABLE hq_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE reports (
        batch TEXT PRIMARY KEY,
        store TEXT NOT NULL,
        received_at REAL NOT NULL,
        hours TEXT NOT NULL
    );
    CREATE TABLE store_syncs (
        name TEXT PRIMARY KEY,
        last_sync_at REAL,
        list_version INTEGER
    );
    """)]


class HeadOffice:
    """A chain's head office: build with its data folder and the chain's identifier key."""

    def __init__(self, data_dir: Path, id_key: str, *, default_region: str = "", clock=system_clock,
                 manifest_ttl_s: float = MANIFEST_TTL_S):
        self.data_dir = Path(data_dir)
        self.feed_dir = self.data_dir / "feed"
        self.feed_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.data_dir / "hq.db")
        migrate(self.db.conn, HQ_MIGRATIONS)
        self.key = feed.load_or_create_key(self.data_dir / "hq-signing.key")
        self.hasher = Hasher(id_key, default_region) if id_key else None
        self.clock = clock
        self.manifest_ttl_s = manifest_ttl_s
        self._signed: tuple[float, int | None, bytes] | None = None
        self._lock = threading.Lock()

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
                         (name, role, hashlib.sha256(token.encode()).hexdigest(), self.clock()))
        return token

    def caller(self, token: str | None) -> tuple[str, str]:
        """``(name, role)`` of a token; raises :class:`Unauthorized`."""
        row = token and self.db.execute("SELECT name, role FROM hq_tokens WHERE token_hash = ?",
                                        (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
        if not row:
            raise Unauthorized("send a head office token: Authorization: Bearer TOKEN")
        return row[0], row[1]

    # -- versions ----------------------------------------------------------

    def import_csv(self, stream: IO[str]) -> dict:
        """A tier CSV as the next version: normalised and hashed with the chain
        key, opted-out customers dropped, refused whole with line numbers."""
        if self.hasher is None:
            raise ValidationError("head office needs the chain's identifier key (POSPLUGIN_ID_KEY)")
        from .errors import ImportRefused
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
            version = (self.latest() or {}).get("version", 0) + 1
            path, rows = builder.finish(version=version, source="hq")
        except BaseException:
            builder.discard()
            raise
        try:
            snapshot = self.feed_dir / f"snapshot-{version}.tsv"
            self._export(path, snapshot)
        finally:
            path.unlink(missing_ok=True)
        sha, size = feed.sha256_file(snapshot)
        with self.db.write() as conn:
            conn.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                         (version, self.clock(), rows, snapshot.name, sha, size))
        return {"version": version, "rows": rows}

    @staticmethod
    def _export(list_file: Path, snapshot: Path) -> None:
        import sqlite3
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

    def latest(self) -> dict | None:
        row = self.db.execute("SELECT version, created_at, rows, snapshot, sha256, bytes FROM versions"
                              " ORDER BY version DESC LIMIT 1").fetchone()
        return dict(zip(("version", "created_at", "rows", "snapshot", "sha256", "bytes"), row)) if row else None

    def signed_manifest(self) -> bytes:
        """The current signed manifest, re-signed once half its lifetime has passed."""
        now = self.clock()
        latest = self.latest()
        version = latest and latest["version"]
        with self._lock:
            if self._signed and self._signed[1] == version and now < self._signed[0]:
                return self._signed[2]
            manifest = {"format": feed.FORMAT, "version": version or 0, "created_at": now,
                        "expires_at": now + self.manifest_ttl_s, "rows": latest["rows"] if latest else 0,
                        "snapshot": None if not latest else {
                            "path": latest["snapshot"], "sha256": latest["sha256"], "bytes": latest["bytes"]},
                        "deltas": []}
            body = json.dumps(feed.sign(manifest, self.key)).encode()
            self._signed = (now + self.manifest_ttl_s / 2, version, body)
            return body

    def record_sync(self, store_name: str) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT INTO store_syncs (name, last_sync_at) VALUES (?, ?) ON CONFLICT (name)"
                         " DO UPDATE SET last_sync_at = excluded.last_sync_at", (store_name, self.clock()))

    def receive_report(self, store_name: str, batch: str, hours: list) -> bool:
        """Keep a store's report; a batch already received is not counted again."""
        if not isinstance(batch, str) or not batch or not isinstance(hours, list):
            raise ValidationError("a report is {\"batch\": \"...\", \"hours\": [...]}")
        with self.db.write() as conn:
            return conn.execute("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?)",
                                (batch, store_name, self.clock(), json.dumps(hours))).rowcount == 1

    def figures(self, store_name: str) -> dict:
        """A store's outcomes over every report it sent."""
        totals = {"prompts_made": 0, "taken": 0, "resolved": 0, "expired": 0, "pain_episodes": 0,
                  "pain_seconds": 0.0, "time_to_act_s": 0.0, "acted": 0, "reach_served_murdoch": 0}
        for (hours,) in self.db.execute("SELECT hours FROM reports WHERE store = ?", (store_name,)):
            for hour in json.loads(hours):
                totals["prompts_made"] += sum(hour.get("made", {}).values())
                for key in ("taken", "resolved", "expired", "pain_episodes", "pain_seconds",
                            "time_to_act_s", "acted"):
                    totals[key] += hour.get(key, 0)
                totals["reach_served_murdoch"] += hour.get("reach_served", {}).get("murdoch", 0)
        acted = totals.pop("acted")
        totals["mean_time_to_act_s"] = round(totals.pop("time_to_act_s") / acted, 1) if acted else None
        return totals

    def stores(self) -> list[dict]:
        rows = self.db.execute("SELECT t.name, s.last_sync_at FROM hq_tokens t LEFT JOIN store_syncs s"
                               " ON s.name = t.name WHERE t.role = 'store' ORDER BY t.name")
        return [{"name": r[0], "last_sync_at": iso(r[1]), "figures": self.figures(r[0])} for r in rows]


bp = Blueprint("hq", __name__, url_prefix="/hq/v1")


def _office() -> HeadOffice:
    return current_app.extensions["posplugin.hq"]


def _caller(*roles) -> str:
    header = request.headers.get("Authorization", "")
    name, role = _office().caller(header[7:].strip() if header[:7].lower() == "bearer " else None)
    if role not in roles:
        raise Forbidden(f"this needs one of the roles {', '.join(roles)}")
    return name


@bp.get("/feed/manifest.json")
def manifest():
    name = _caller("store", "admin")
    body = _office().signed_manifest()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    _office().record_sync(name)
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, content_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@bp.get("/feed/<name>")
def feed_file(name: str):
    _caller("store", "admin")
    path = _office().feed_dir / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound(f"no feed file {name}")
    return send_file(path, mimetype="text/tab-separated-values", conditional=True, etag=True)


@bp.post("/reports")
def reports():
    name = _caller("store")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("send the report as a JSON object")
    accepted = _office().receive_report(name, body.get("batch"), body.get("hours"))
    return jsonify({"accepted": accepted})


@bp.get("/stores")
def stores():
    _caller("admin")
    return jsonify({"stores": _office().stores(), "latest": _office().latest()})


def create_hq_app(office: HeadOffice) -> Flask:
    """The head office service around ``office``."""
    app = Flask(__name__, static_folder=None)
    app.extensions["posplugin.hq"] = office
    app.register_blueprint(bp)
    app.register_error_handler(Exception, handle_error)
    return app
