"""Reports counted once per store and batch, and kept consistent.

Revision ID: 0003
Revises: 0002

* ``reports`` is keyed by (store, batch): a batch id is a store's own, and
  another store's batch of the same id no longer drops it.
* ``store_totals``: what each store has reported so far, summed, so that a
  batch taking more prompts than were made is refused. Filled from the hours
  already received; a store whose past figures are already inconsistent
  starts from the larger of its counts, so it is not refused for ever.
* ``experiment_batches`` goes: an experiment's per-arm outcomes are counted in
  the same transaction as the report that carries them, once per ``reports`` row.
* ``store_days`` is made again from ``store_hours``, and ``store_day_durations``
  from ``store_durations`` where it has no row. Head office used to do this at
  every start, racing the first reports, and its SQL divided by 86,400 without
  rounding down (SQLAlchemy's ``/`` is true division): a day row per hour, each
  counted again on the dashboard beside the real day. Here it runs once, under
  the schema lock, before any process serves.
* ``oauth_states.session_hash``: the session that started a link; a callback
  from any other browser links nothing.
* ``linked_accounts.proof`` and ``proved_at``: a handle a customer gives
  counts only once they proved it is theirs (a phrase in its bio or a post).
  Handles given before carry no proof and stop counting until proved.
"""

from __future__ import annotations

import numpy
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TOTALS = ("made", "taken", "resolved", "expired")
SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds", "reach_murdoch",
        "reach_all")
DAY = "(CAST(hour AS BIGINT) - CAST(hour AS BIGINT) % 86400)"  # hours are whole seconds after 1970


def upgrade() -> None:
    op.create_table(
        "reports_by_store",
        sa.Column("batch", sa.String(128), nullable=False),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("hours", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("store", "batch"))
    op.execute("INSERT INTO reports_by_store (batch, store, received_at, hours) "
               "SELECT batch, store, received_at, hours FROM reports")
    op.drop_table("reports")
    op.rename_table("reports_by_store", "reports")
    if op.get_bind().dialect.name == "postgresql":  # the key keeps the name a new table's would have
        op.execute("ALTER INDEX reports_by_store_pkey RENAME TO reports_pkey")

    op.create_table(
        "store_totals",
        sa.Column("store", sa.Text, primary_key=True),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in TOTALS))
    op.execute("INSERT INTO store_totals (store, made, taken, resolved, expired) "
               "SELECT store, sum(made), sum(taken), sum(resolved), sum(expired) FROM store_hours GROUP BY store")
    # Past figures that break the rule (accepted before it existed) must not block the store's next batch.
    op.execute("UPDATE store_totals SET made = taken WHERE taken > made")
    op.execute("UPDATE store_totals SET made = resolved + expired WHERE resolved + expired > made")

    op.drop_table("experiment_batches")
    _days_from_hours()
    with op.batch_alter_table("oauth_states") as batch:
        batch.add_column(sa.Column("session_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("linked_accounts") as batch:
        batch.add_column(sa.Column("proof", sa.String(64), nullable=True))
        batch.add_column(sa.Column("proved_at", sa.Float, nullable=True))


def _days_from_hours() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM store_days"))
    conn.execute(sa.text(f"INSERT INTO store_days (store, day, {', '.join(SUMS)}) "
                         f"SELECT store, {DAY}, {', '.join(f'sum({c})' for c in SUMS)} "
                         f"FROM store_hours GROUP BY store, {DAY}"))
    if conn.execute(sa.text("SELECT count(*) FROM store_day_durations")).scalar():
        return
    days: dict[tuple, list] = {}
    for store, kind, day, seconds in conn.execute(sa.text(
            f"SELECT store, kind, {DAY}, seconds FROM store_durations ORDER BY store, kind, hour")):
        days.setdefault((store, kind, day), []).append(seconds)
    if days:
        # Packed as posplugin.hq.db.pack does: little-endian doubles.
        conn.execute(sa.text("INSERT INTO store_day_durations (store, kind, day, seconds) "
                             "VALUES (:store, :kind, :day, :seconds)"),
                     [{"store": store, "kind": kind, "day": day,
                       "seconds": numpy.asarray(values, dtype="<f8").tobytes()}
                      for (store, kind, day), values in days.items()])


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts") as batch:
        batch.drop_column("proved_at")
        batch.drop_column("proof")
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("session_hash")
    op.create_table(
        "experiment_batches",
        sa.Column("batch", sa.String(128), primary_key=True),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False))
    op.drop_table("store_totals")
    op.create_table(
        "reports_by_batch",
        sa.Column("batch", sa.String(128), primary_key=True),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("hours", sa.Text, nullable=False))
    # Batches of the same id from two stores cannot both stay: the first received does.
    op.execute("INSERT INTO reports_by_batch (batch, store, received_at, hours) "
               "SELECT batch, store, received_at, hours FROM reports r WHERE NOT EXISTS ("
               "SELECT 1 FROM reports o WHERE o.batch = r.batch AND (o.received_at < r.received_at "
               "OR o.received_at = r.received_at AND o.store < r.store))")
    op.drop_table("reports")
    op.rename_table("reports_by_batch", "reports")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX reports_by_batch_pkey RENAME TO reports_pkey")
