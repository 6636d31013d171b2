"""Listening: store placement, posts heard, source cursors, consented visits;
an invitation's kind (after a sale, or to share a post head office heard).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_places",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("handles", sa.Text, nullable=False, server_default=""),
        sa.Column("place", sa.Text, nullable=False, server_default=""),
        sa.Column("instagram_location", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "heard_posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("post_id", sa.String(300), nullable=False),
        sa.Column("url", sa.Text, nullable=False, server_default=""),
        sa.Column("text", sa.Text),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("posted_at", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("customer_id", sa.Integer),
        sa.Column("mentions_chain", sa.Integer, nullable=False, server_default="0"),
        sa.Column("about", sa.String(16), nullable=False),
        sa.Column("tone", sa.String(16), nullable=False),
        sa.Column("why", sa.Text, nullable=False, server_default="[]"),
        sa.Column("store", sa.Text),
        sa.Column("lane", sa.String(32)),
        sa.Column("routed_by", sa.String(16), nullable=False, server_default="none"),
        sa.Column("floor", sa.String(16), nullable=False, server_default="none"),
        sa.Column("fetched_at", sa.Float),
        sa.Column("prompt_at", sa.Float),
        sa.Column("taken_at", sa.Float),
        sa.Column("resolved_at", sa.Float),
        sa.Column("replied_at", sa.Float),
        sa.Column("replied_by", sa.Text),
        sa.Column("share_asked_at", sa.Float),
        sa.Column("purged_at", sa.Float),
        sa.UniqueConstraint("source", "post_id", name="heard_posts_once"),
    )
    op.create_index("heard_posts_by_store", "heard_posts", ["store", "id"])
    op.create_index("heard_posts_by_time", "heard_posts", ["posted_at"])
    op.create_index("heard_posts_by_customer", "heard_posts", ["customer_id"])
    op.create_table(
        "listen_cursors",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "listening_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.UniqueConstraint("store", "id_hash", "at", name="listening_visits_once"),
    )
    op.create_index("listening_visits_by_customer", "listening_visits", ["id_hash", "at"])
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="sale"))


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("kind")
    op.drop_table("listening_visits")
    op.drop_table("listen_cursors")
    op.drop_index("heard_posts_by_customer", "heard_posts")
    op.drop_index("heard_posts_by_time", "heard_posts")
    op.drop_index("heard_posts_by_store", "heard_posts")
    op.drop_table("heard_posts")
    op.drop_table("store_places")
