"""The store's API tokens and roles (its ``tokens`` table). Tokens are random
and stored only as SHA-256 digests (:mod:`posplugin.tokens`)."""

from __future__ import annotations

import sqlite3
import time

from ..db import Database
from ..errors import Conflict, Unauthorized, ValidationError
from ..tokens import CachedLookup, Caller, digest, new_token

ROLES = ("till", "queue", "staff", "admin")
SUPERUSER = "admin"
PREFIX = "pp_"


def create_token(conn: sqlite3.Connection, role: str, name: str) -> str:
    """Create and return a new token; only its hash is stored."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    if not name.strip():
        raise ValidationError("name must not be empty", field="name")
    if conn.execute("SELECT 1 FROM tokens WHERE name = ? AND revoked_at IS NULL", (name.strip(),)).fetchone():
        # A name says which device holds the token; two live ones could not be told apart or revoked apart.
        raise Conflict(f"a live token named {name.strip()!r} exists already; revoke it "
                       "(posplugin token revoke --name NAME) or choose another name", field="name")
    token = new_token(PREFIX)
    conn.execute("INSERT INTO tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                 (name.strip(), role, digest(token), time.time()))
    return token


def revoke_token(conn: sqlite3.Connection, name: str) -> int:
    """Revoke every live token called ``name``; returns how many."""
    return conn.execute("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                        (time.time(), name)).rowcount


def list_tokens(db: Database) -> list[dict]:
    """Every token ever made (never the token itself), oldest first."""
    return list(db.utils["tokens"].rows_where(select="id, name, role, created_at, revoked_at", order_by="id"))


def authenticate(conn: sqlite3.Connection, token: str | None) -> Caller:
    """The caller holding ``token``; raises :class:`Unauthorized`."""
    if not token:
        raise Unauthorized("send a token: Authorization: Bearer TOKEN")
    row = conn.execute("SELECT id, name, role FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
                       (digest(token),)).fetchone()
    if row is None:
        raise Unauthorized("the token is not valid or has been revoked")
    return Caller(row[0], row[1], row[2])


def live_token_ids(conn: sqlite3.Connection, ids) -> set[int]:
    """Which of the token ids ``ids`` are neither revoked nor deleted."""
    ids = list(ids)
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {row[0] for row in conn.execute(
        f"SELECT id FROM tokens WHERE id IN ({marks}) AND revoked_at IS NULL", ids)}


def authenticator(conn_factory, ttl_s: float = 5.0, clock=time.monotonic) -> CachedLookup:
    """:func:`authenticate` over ``conn_factory()``'s connection, cached for ``ttl_s``."""
    return CachedLookup(lambda token: authenticate(conn_factory(), token), ttl_s, clock)
