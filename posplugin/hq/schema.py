"""Head office's tables, for SQLite and PostgreSQL alike (SQLAlchemy Core).

Each group of tables is owned by the module named above it; only that module
reads or writes them. This is the newest schema; the database gets it through
the Alembic revisions in ``posplugin/hq/migrations/versions/``. A change here
(a table, a column, an index) needs a new revision beside it: copy the newest
one, set ``down_revision`` to its ``revision``, and write the ``op`` calls
(``op.batch_alter_table`` for SQLite's sake). tests/test_hq_db.py fails while
this module and the revisions disagree.
"""

from __future__ import annotations

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
)

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

# A batch id is the store's own: two stores may send the same one (revision 0003).
reports = Table(
    "reports", metadata,
    Column("batch", String(128), nullable=False),
    Column("store", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("hours", Text, nullable=False),  # the hours as counted: only the fields the schema names
    PrimaryKeyConstraint("store", "batch"),
)

# Everything a store has reported, summed: a batch that would have it take,
# resolve or expire more prompts than it made is refused. Its row is also the
# lock that makes one store's batches take turns (revision 0003).
store_totals = Table(
    "store_totals", metadata,
    Column("store", Text, primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0")
      for name in ("made", "taken", "resolved", "expired")),
)

def outcome_sums() -> list[Column]:
    """The summed figures of a store's hour or day (one set of columns for both)."""
    counts = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes")
    return ([Column(name, BigInteger, nullable=False, server_default="0") for name in counts]
            + [Column("pain_seconds", Float, nullable=False, server_default="0")]
            + [Column(name, BigInteger, nullable=False, server_default="0")
               for name in ("reach_murdoch", "reach_all")])


store_hours = Table(
    "store_hours", metadata,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    *outcome_sums(),
    PrimaryKeyConstraint("store", "hour"),
    # The dashboard reads every store's hours before its first whole day by
    # time alone (revision 0002).
    Index("store_hours_by_hour", "hour"),
)

# The same sums per store and UTC day, kept in the same transaction as the
# hours: a 90-day dashboard reads 90 rows a store instead of 2,160.
store_days = Table(
    "store_days", metadata,
    Column("store", Text, nullable=False),
    Column("day", Float, nullable=False),
    *outcome_sums(),
    PrimaryKeyConstraint("store", "day"),
)

store_durations = Table(
    "store_durations", metadata,
    Column("store", Text, nullable=False),
    Column("hour", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    Index("store_durations_by_store", "store", "kind", "hour"),
    Index("store_durations_by_hour", "hour"),  # as store_hours_by_hour (revision 0002)
)

# Every duration of a store's UTC day in one row, packed as little-endian
# doubles, kept in the same transaction as store_durations: a 90-day median
# reads 90 rows a store, not every duration (docs/scaling.md has the figures).
store_day_durations = Table(
    "store_day_durations", metadata,
    Column("store", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("day", Float, nullable=False),
    Column("seconds", LargeBinary, nullable=False),
    PrimaryKeyConstraint("store", "kind", "day"),
)

# -- posplugin.hq.experiment: holdout experiments and their per-arm outcomes --

experiments = Table(
    "experiments", metadata,
    Column("name", String(100), primary_key=True),
    Column("holdout_share", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("stopped_at", Float),
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

# -- posplugin.hq.customers: customers who joined, their proven identifiers,
# one-time codes, consent records and signed-in sessions. Identifiers and
# addresses are keyed hashes (hex), never raw. -------------------------------

customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float),
)

customer_identifiers = Table(
    "customer_identifiers", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("id_type", String(16), nullable=False),
    Column("verified_at", Float, nullable=False),
)

join_codes = Table(
    "join_codes", metadata,
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
    "consents", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("version", String(32), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("given_at", Float, nullable=False),
    Column("withdrawn_at", Float),
)

customer_sessions = Table(
    "customer_sessions", metadata,
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
    "linked_accounts", metadata,
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
    # A handle counts once its owner proved it (revision 0003): the phrase to
    # put in the bio or a post, and when it was read back there.
    Column("proof", String(64)),
    Column("proved_at", Float),
    UniqueConstraint("customer_id", "platform", name="linked_accounts_one_per_platform"),
    Index("linked_accounts_due", "status", "next_refresh_at"),
)

oauth_states = Table(
    "oauth_states", metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("verifier", Text, nullable=False),  # sealed PKCE code verifier
    Column("created_at", Float, nullable=False),
    Column("used_at", Float),
    # SHA-256 of the session that started the link: only it may finish it (revision 0003).
    Column("session_hash", String(64)),
)

# -- posplugin.hq.build: each build of a version from joined customers -------

builds = Table(
    "builds", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("version", Integer),
    Column("customers", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("trigger", String(16), nullable=False),  # command | auto | csv (built on a CSV)
)

# -- posplugin.hq.me: the customer's page's audit trail (customer ids only) --

me_audit = Table(
    "me_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text),
)

# -- posplugin.hq.invitations: invitations to share or review after a sale,
# sent by stores for customers who agreed to invitations (keyed hashes) -----

invitations = Table(
    "invitations", metadata,
    Column("id", Integer, primary_key=True),
    Column("store", Text, nullable=False),
    Column("ref", String(64), nullable=False),
    Column("id_hash", String(64), nullable=False, index=True),
    Column("sold_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("reward", String(16), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("seen_at", Float),
    # sale (a store's after-sale invitation) or heard (head office asks to share a post it heard)
    Column("kind", String(16), nullable=False, server_default="sale"),
    UniqueConstraint("store", "ref"),
)

# -- posplugin.hq.listening: what customers post about a store ---------------

# Where each store is, for routing: its own handles and hashtags, its place
# name, its Instagram location id (posplugin.hq.listening.placement).
store_places = Table(
    "store_places", metadata,
    Column("name", Text, primary_key=True),
    Column("handles", Text, nullable=False, server_default=""),
    Column("place", Text, nullable=False, server_default=""),
    Column("instagram_location", String(64), nullable=False, server_default=""),
    Column("updated_at", Float, nullable=False),
)

# Every post heard that was addressed to the chain or came from a customer
# who consented to listening; nothing else is ever written. ``text`` is
# cleared after heard_retention_days (the row and its figures stay). No
# handle: a customer's own posts carry their customer id only.
heard_posts = Table(
    "heard_posts", metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("post_id", String(300), nullable=False),
    Column("url", Text, nullable=False, server_default=""),
    Column("text", Text),
    Column("language", String(8), nullable=False),
    Column("posted_at", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("customer_id", Integer),
    Column("mentions_chain", Integer, nullable=False, server_default="0"),
    Column("about", String(16), nullable=False),
    Column("tone", String(16), nullable=False),
    Column("why", Text, nullable=False, server_default="[]"),
    Column("store", Text),
    Column("lane", String(32)),
    Column("routed_by", String(16), nullable=False, server_default="none"),
    # none (inbox only), waiting (a store will fetch it), old (too old for the floor)
    Column("floor", String(16), nullable=False, server_default="none"),
    Column("fetched_at", Float),
    Column("prompt_at", Float),
    Column("taken_at", Float),
    Column("resolved_at", Float),
    Column("replied_at", Float),
    Column("replied_by", Text),
    Column("share_asked_at", Float),
    Column("purged_at", Float),
    UniqueConstraint("source", "post_id", name="heard_posts_once"),
    Index("heard_posts_by_store", "store", "id"),
    Index("heard_posts_by_time", "posted_at"),
    Index("heard_posts_by_customer", "customer_id"),
)

# Where each long-lived source resumes (Jetstream's time_us, Mastodon's last ids).
listen_cursors = Table(
    "listen_cursors", metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Visits stores report for customers who consented to listening: keyed hash
# and time, nothing else (routing by a recent visit, and the posts_7 outcome).
listening_visits = Table(
    "listening_visits", metadata,
    Column("id", Integer, primary_key=True),
    Column("store", Text, nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("store", "id_hash", "at", name="listening_visits_once"),
    Index("listening_visits_by_customer", "id_hash", "at"),
)
