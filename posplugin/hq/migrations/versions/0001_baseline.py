"""Baseline: head office's tables as create_all made them before migrations.

Revision ID: 0001
Revises: (none)

The tables are declared here again, frozen, rather than taken from
:mod:`posplugin.hq.schema`: that module is the newest schema, and this
revision must make the same tables forever. :func:`adopt` brings a database
that an earlier head office made with ``create_all`` (no ``alembic_version``)
to this revision without touching its rows.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

baseline = MetaData()


# -- posplugin.hq.office: tier-list versions and the feed -------------------

versions = Table(
    "versions", baseline,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

deltas = Table(
    "deltas", baseline,
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
    "feed_manifest", baseline,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("renew_at", Float, nullable=False),
    Column("body", Text, nullable=False),
)

# -- posplugin.hq.office: tokens and each store's last sync -----------------

hq_tokens = Table(
    "hq_tokens", baseline,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

store_syncs = Table(
    "store_syncs", baseline,
    Column("name", Text, primary_key=True),
    Column("last_sync_at", Float),
    Column("list_version", Integer),
)

# -- posplugin.hq.reports: outcome reports and their hourly figures ---------

reports = Table(
    "reports", baseline,
    Column("batch", String(128), primary_key=True),
    Column("store", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("hours", Text, nullable=False),
)

def outcome_sums() -> list[Column]:
    """The summed figures of a store's hour or day (one set of columns for both)."""
    counts = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes")
    return ([Column(name, BigInteger, nullable=False, server_default="0") for name in counts]
            + [Column("pain_seconds", Float, nullable=False, server_default="0")]
            + [Column(name, BigInteger, nullable=False, server_default="0")
               for name in ("reach_murdoch", "reach_all")])


store_hours = Table(
    "store_hours", baseline,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    *outcome_sums(),
    PrimaryKeyConstraint("store", "hour"),
)

# The same sums per store and UTC day, kept in the same transaction as the
# hours: a 90-day dashboard reads 90 rows a store instead of 2,160.
store_days = Table(
    "store_days", baseline,
    Column("store", Text, nullable=False),
    Column("day", Float, nullable=False),
    *outcome_sums(),
    PrimaryKeyConstraint("store", "day"),
)

store_durations = Table(
    "store_durations", baseline,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    Index("store_durations_by_store", "store", "kind", "hour"),
)

# Every duration of a store's UTC day in one row, packed as little-endian
# doubles, kept in the same transaction as store_durations: a 90-day median
# reads 90 rows a store, not every duration (docs/scaling.md has the figures).
store_day_durations = Table(
    "store_day_durations", baseline,
    Column("store", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("day", Float, nullable=False),
    Column("seconds", LargeBinary, nullable=False),
    PrimaryKeyConstraint("store", "kind", "day"),
)

# -- posplugin.hq.experiment: holdout experiments and their per-arm outcomes --

experiments = Table(
    "experiments", baseline,
    Column("name", String(100), primary_key=True),
    Column("holdout_share", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float),
)

experiment_batches = Table(
    "experiment_batches", baseline,
    Column("batch", String(128), primary_key=True),
    Column("store", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)

experiment_outcomes = Table(
    "experiment_outcomes", baseline,
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

# -- posplugin.hq.customers: customers who joined, their proven identifiers,
# one-time codes, consent records and signed-in sessions. Identifiers and
# addresses are keyed hashes (hex), never raw. -------------------------------

customers = Table(
    "customers", baseline,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float),
)

customer_identifiers = Table(
    "customer_identifiers", baseline,
    Column("id_hash", String(64), primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("id_type", String(16), nullable=False),
    Column("verified_at", Float, nullable=False),
)

join_codes = Table(
    "join_codes", baseline,
    Column("id", Integer, primary_key=True),
    Column("id_hash", String(64), nullable=False),
    Column("address_hash", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("used_at", Float),
    Index("join_codes_by_identifier", "id_hash", "created_at"),
    Index("join_codes_by_address", "address_hash", "created_at"),
)

consents = Table(
    "consents", baseline,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("version", String(32), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("given_at", Float, nullable=False),
    Column("withdrawn_at", Float),
)

customer_sessions = Table(
    "customer_sessions", baseline,
    Column("token_hash", String(64), primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("id_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ended_at", Float),
)

# -- posplugin.hq.accounts: accounts customers link (tokens sealed by
# posplugin.hq.vault) and the OAuth states of links under way; the
# measurement columns are written by posplugin.hq.metrics. ------------------

linked_accounts = Table(
    "linked_accounts", baseline,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # oauth | handle
    Column("account_id", String(128)),
    Column("handle", String(128)),
    Column("token", Text),  # sealed; NULL for a handle or once access has ended
    Column("status", String(16), nullable=False),  # linked | revoked | unavailable | unlinked
    Column("linked_at", Float, nullable=False),
    Column("followers", BigInteger),
    Column("engagement_rate", Float),
    Column("posts", Integer),
    Column("measured_at", Float),
    Column("next_refresh_at", Float, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("last_error_at", Float),
    UniqueConstraint("customer_id", "platform", name="linked_accounts_one_per_platform"),
    Index("linked_accounts_due", "status", "next_refresh_at"),
)

oauth_states = Table(
    "oauth_states", baseline,
    Column("state_hash", String(64), primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("verifier", Text, nullable=False),  # sealed PKCE code verifier
    Column("created_at", Float, nullable=False),
    Column("used_at", Float),
)

# -- posplugin.hq.build: each build of a version from joined customers -------

builds = Table(
    "builds", baseline,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("version", Integer),
    Column("customers", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("trigger", String(16), nullable=False),  # command | auto | csv (built on a CSV)
)

# -- posplugin.hq.me: the customer's page's audit trail (customer ids only) --

me_audit = Table(
    "me_audit", baseline,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text),
)

# -- posplugin.hq.invitations: invitations to share or review after a sale,
# sent by stores for customers who agreed to invitations (keyed hashes) -----

invitations = Table(
    "invitations", baseline,
    Column("id", Integer, primary_key=True),
    Column("store", Text, nullable=False),
    Column("ref", String(64), nullable=False),
    Column("id_hash", String(64), nullable=False, index=True),
    Column("sold_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("reward", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("seen_at", Float),
    UniqueConstraint("store", "ref"),
)


def upgrade() -> None:
    # Not checkfirst: a database that already has these tables is adopted
    # (posplugin.hq.db.upgrade), never run through this.
    baseline.create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    baseline.drop_all(op.get_bind())


def adopt(conn) -> list[str]:
    """Make what a database from an earlier ``create_all`` lacks of this
    revision (tables added in releases after it was made, and their indexes);
    returns their names. Existing tables and rows are left as they are."""
    made = []
    found = inspect(conn)
    tables = set(found.get_table_names())
    for table in baseline.sorted_tables:
        if table.name not in tables:
            table.create(conn)
            made.append(table.name)
            continue
        indexes = {index["name"] for index in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)
                made.append(index.name)
    return made
