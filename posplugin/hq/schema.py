"""Head office's database tables: tier-list versions and deltas, tokens, each
store's last sync, and outcome reports with their hourly figures."""

from __future__ import annotations

MIGRATIONS = [("hq", """
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
    """), ("hq-deltas", """
    CREATE TABLE deltas (
        to_version INTEGER PRIMARY KEY,
        from_version INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        upserts INTEGER NOT NULL,
        deletes INTEGER NOT NULL
    );
    """), ("hq-outcomes", """
    CREATE TABLE store_hours (
        store TEXT NOT NULL,
        hour REAL NOT NULL,
        made INTEGER NOT NULL DEFAULT 0,
        made_murdoch INTEGER NOT NULL DEFAULT 0,
        taken INTEGER NOT NULL DEFAULT 0,
        resolved INTEGER NOT NULL DEFAULT 0,
        expired INTEGER NOT NULL DEFAULT 0,
        pain_episodes INTEGER NOT NULL DEFAULT 0,
        pain_seconds REAL NOT NULL DEFAULT 0,
        reach_murdoch INTEGER NOT NULL DEFAULT 0,
        reach_all INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (store, hour)
    ) WITHOUT ROWID;
    CREATE TABLE store_durations (
        store TEXT NOT NULL,
        hour REAL NOT NULL,
        kind TEXT NOT NULL,
        seconds REAL NOT NULL
    );
    CREATE INDEX store_durations_by_store ON store_durations (store, kind, hour);
    """)]
