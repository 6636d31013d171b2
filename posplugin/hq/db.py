"""Head office's database through SQLAlchemy Core: the SQLite file ``hq.db``
in its data folder by default, PostgreSQL when ``hq_database_url`` is set.

Every head office table is declared once, in :mod:`posplugin.hq.schema`;
:func:`open_engine` creates what is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from .schema import metadata

BUSY_TIMEOUT_MS = 5_000


def database_url(data_dir: Path, url: str = "") -> str:
    """``url`` if given (``postgresql://…``), else the SQLite file in ``data_dir``."""
    if url:
        # psycopg 3 is the driver; a plain postgresql:// URL would ask for psycopg2.
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{Path(data_dir, 'hq.db').as_posix()}"


def open_engine(url: str) -> Engine:
    """An engine for ``url`` with every table of :mod:`posplugin.hq.schema` created."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL so the page's reads never wait on a store's report; NORMAL is durable
    # against crashes of the process, which is what head office needs.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()
