"""Head office's tables, for SQLite and PostgreSQL alike (SQLAlchemy Core).

Each group of tables is owned by the module named above it; only that module
reads or writes them. Add a table here, in its owner's group; a new column on
a released table needs a migration step, not an edit.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, PrimaryKeyConstraint, String,
                        Table, Text)

metadata = MetaData()

# -- posplugin.hq.office: tier-list versions and the feed -------------------

versions = Table(
    "versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

deltas = Table(
    "deltas", metadata,
    Column("to_version", Integer, primary_key=True, autoincrement=False),
    Column("from_version", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("upserts", BigInteger, nullable=False),
    Column("deletes", BigInteger, nullable=False),
)

# The signed manifest, shared by every head office process so all of them
# serve the same bytes (and ETag) until it is re-signed.
feed_manifest = Table(
    "feed_manifest", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("renew_at", Float, nullable=False),
    Column("body", Text, nullable=False),
)

# -- posplugin.hq.office: tokens and each store's last sync -----------------

hq_tokens = Table(
    "hq_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

store_syncs = Table(
    "store_syncs", metadata,
    Column("name", Text, primary_key=True),
    Column("last_sync_at", Float),
    Column("list_version", Integer),
)

# -- posplugin.hq.reports: outcome reports and their hourly figures ---------

reports = Table(
    "reports", metadata,
    Column("batch", String(128), primary_key=True),
    Column("store", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("hours", Text, nullable=False),
)

store_hours = Table(
    "store_hours", metadata,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    Column("made", BigInteger, nullable=False, server_default="0"),
    Column("made_murdoch", BigInteger, nullable=False, server_default="0"),
    Column("taken", BigInteger, nullable=False, server_default="0"),
    Column("resolved", BigInteger, nullable=False, server_default="0"),
    Column("expired", BigInteger, nullable=False, server_default="0"),
    Column("pain_episodes", BigInteger, nullable=False, server_default="0"),
    Column("pain_seconds", Float, nullable=False, server_default="0"),
    Column("reach_murdoch", BigInteger, nullable=False, server_default="0"),
    Column("reach_all", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("store", "hour"),
)

store_durations = Table(
    "store_durations", metadata,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    Index("store_durations_by_store", "store", "kind", "hour"),
)

# -- posplugin.hq.experiment: holdout experiments and their per-arm outcomes --

experiments = Table(
    "experiments", metadata,
    Column("name", String(100), primary_key=True),
    Column("holdout_share", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float),
)

experiment_batches = Table(
    "experiment_batches", metadata,
    Column("batch", String(128), primary_key=True),
    Column("store", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)

experiment_outcomes = Table(
    "experiment_outcomes", metadata,
    Column("experiment", String(100), nullable=False),
    Column("store", Text, nullable=False),
    Column("level", String(16), nullable=False),
    Column("arm", String(16), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("total", Float, nullable=False),
    Column("total_sq", Float, nullable=False),
    PrimaryKeyConstraint("experiment", "store", "level", "arm", "metric"),
)
