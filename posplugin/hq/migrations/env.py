"""Alembic's environment for head office: run by :func:`posplugin.hq.db.upgrade`
on the connection it holds (inside its lock and transaction), never with an
alembic.ini of the operator's."""

from alembic import context

from posplugin.hq.schema import metadata

connection = context.config.attributes["connection"]
# render_as_batch: SQLite cannot ALTER most things, so a revision's
# op.batch_alter_table copies the table there and alters in place on PostgreSQL.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
