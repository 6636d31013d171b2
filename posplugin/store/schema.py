"""The store database's tables: tokens, prompts and their events, visits, the
outcome outbox, lanes and queue history, sync state and webhook dedupe, and
the holdout experiment's state, customers and outbox."""

from __future__ import annotations

from pathlib import Path

from ..db import Database
from . import invitations

# (name, script) pairs, applied once each in this order and recorded by name in
# ``migrations``; never edit a released entry, add a new one.
MIGRATIONS = [
    ("core", """
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        level TEXT NOT NULL,
        lane TEXT,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        taken_by TEXT,
        taken_at REAL,
        resolved_by TEXT,
        resolved_at REAL,
        note TEXT,
        customer BLOB,
        display_name TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        expires_at REAL
    );
    CREATE INDEX prompts_dedupe ON prompts (customer, lane, created_at);
    CREATE INDEX prompts_status ON prompts (status, created_at);
    CREATE INDEX prompts_created ON prompts (created_at);
    CREATE TABLE prompt_events (
        id INTEGER PRIMARY KEY,
        prompt_id INTEGER NOT NULL,
        at REAL NOT NULL,
        action TEXT NOT NULL,
        by TEXT,
        note TEXT
    );
    CREATE INDEX prompt_events_prompt ON prompt_events (prompt_id);
    CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        lane TEXT NOT NULL,
        customer BLOB NOT NULL,
        stage TEXT NOT NULL,
        known INTEGER NOT NULL,
        tier TEXT NOT NULL,
        service_level TEXT NOT NULL,
        engaged_reach INTEGER NOT NULL,
        prompt_id INTEGER,
        sale_id TEXT,
        left_at REAL
    );
    CREATE INDEX visits_at ON visits (at);
    CREATE INDEX visits_waiting ON visits (stage, left_at, lane);
    CREATE INDEX visits_customer ON visits (customer, stage);
    """),
    ("outbox", """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        action TEXT NOT NULL,
        kind TEXT NOT NULL,
        level TEXT NOT NULL,
        created_at REAL NOT NULL,
        reach INTEGER,
        batch TEXT,
        sent_at REAL
    );
    CREATE INDEX outbox_unsent ON outbox (sent_at, batch);
    CREATE TRIGGER outbox_from_prompt_events AFTER INSERT ON prompt_events
    BEGIN
        INSERT INTO outbox (at, action, kind, level, created_at, reach)
        SELECT NEW.at, NEW.action, p.kind, p.level, p.created_at,
               json_extract(p.details, '$.engaged_reach')
        FROM prompts p WHERE p.id = NEW.prompt_id;
    END;
    """),
    ("queues", """
    CREATE TABLE queue_history (
        id INTEGER PRIMARY KEY,
        lane TEXT NOT NULL,
        at REAL NOT NULL,
        slot INTEGER NOT NULL,
        length INTEGER NOT NULL,
        event TEXT
    );
    CREATE INDEX queue_history_slot ON queue_history (lane, slot, at);
    CREATE INDEX queue_history_store_slot ON queue_history (slot, at);
    CREATE INDEX queue_history_events ON queue_history (event, lane, at);
    CREATE TABLE sync_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT,
        synced_at REAL,
        last_error TEXT
    );
    CREATE TABLE hook_events (
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (source, event_id)
    );
    CREATE TABLE lanes (
        lane TEXT PRIMARY KEY,
        open INTEGER NOT NULL DEFAULT 1,
        length INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'ok',
        calm_since REAL,
        pain_prompt_id INTEGER,
        last_served_at REAL
    );
    """),
    invitations.MIGRATION,
    # posplugin.store.visits owns the visit columns; posplugin.store.experiment
    # the experiment's tables.
    ("experiment", """
    ALTER TABLE visits ADD COLUMN arm TEXT;
    ALTER TABLE visits ADD COLUMN experiment TEXT;
    ALTER TABLE visits ADD COLUMN sale_total REAL;
    CREATE TABLE experiment_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT,
        holdout_share REAL NOT NULL DEFAULT 0,
        updated_at REAL,
        scanned_visit INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE experiment_customers (
        experiment TEXT NOT NULL,
        customer BLOB NOT NULL,
        arm TEXT NOT NULL,
        level TEXT NOT NULL,
        first_at REAL NOT NULL,
        returned_at REAL,
        sales INTEGER NOT NULL DEFAULT 0,
        sales_total REAL NOT NULL DEFAULT 0,
        done_7 INTEGER NOT NULL DEFAULT 0,
        done_30 INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, customer)
    );
    CREATE INDEX experiment_customers_customer ON experiment_customers (customer);
    CREATE INDEX experiment_customers_open ON experiment_customers (done_30, first_at);
    CREATE TABLE arm_outbox (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        experiment TEXT NOT NULL,
        level TEXT NOT NULL,
        arm TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        batch TEXT,
        sent_at REAL
    );
    CREATE INDEX arm_outbox_unsent ON arm_outbox (sent_at, batch);
    """),
    # store/outbox.py: a batch head office refused as it is, set aside so the
    # batches behind it still go.
    ("outbox_refused", """
    ALTER TABLE outbox ADD COLUMN refused_at REAL;
    ALTER TABLE arm_outbox ADD COLUMN refused_at REAL;
    """),
    # store/service.py first_delivery: dedupe keys are keyed hashes now; the
    # old ones could hold a phone number or an email, so they go.
    ("hook_events_hashed", """
    DELETE FROM hook_events;
    """),
    # store/visits.py: ids reserved in blocks, so a crash never hands one out twice.
    ("id_reservations", """
    CREATE TABLE id_reservations (
        name TEXT PRIMARY KEY,
        reserved INTEGER NOT NULL
    );
    """),
    # store/heard.py: what customers posted about this store, from head office.
    ("heard", """
    CREATE TABLE heard_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        after INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        consented_etag TEXT,
        reported_at REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE heard_prompts (
        heard_id INTEGER PRIMARY KEY,
        prompt_id INTEGER NOT NULL
    );
    CREATE TABLE heard_consented (
        customer BLOB PRIMARY KEY
    );
    CREATE TABLE heard_visits (
        id INTEGER PRIMARY KEY,
        customer BLOB NOT NULL,
        at REAL NOT NULL
    );
    """),
]


def open_database(path: str | Path, **options) -> Database:
    """The store database at ``path``, migrated to the current schema."""
    return Database(path, MIGRATIONS, **options)
