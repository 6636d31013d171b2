"""API tokens and roles. Tokens are random and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from ..db import Database
from ..errors import Forbidden, Unauthorized, ValidationError

ROLES = ("till", "queue", "staff", "admin")
PREFIX = "pp_"


@dataclass(frozen=True)
class Caller:
    token_id: int
    name: str
    role: str


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value, or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def create_token(conn: sqlite3.Connection, role: str, name: str) -> str:
    """Create and return a new token; only its hash is stored."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    if not name.strip():
        raise ValidationError("name must not be empty", field="name")
    token = PREFIX + secrets.token_urlsafe(24)
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


class Authenticator:
    """:func:`authenticate` with a short-lived cache: a till's token is checked
    against the database at most every ``ttl_s`` seconds, so a revoked token
    stops working within that time."""

    def __init__(self, conn_factory, ttl_s: float = 5.0, clock=time.monotonic):
        self._conn = conn_factory
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Caller]] = {}

    def __call__(self, token: str | None) -> Caller:
        if token:
            hit = self._cache.get(token)
            if hit and hit[0] > self._clock():
                return hit[1]
        caller = authenticate(self._conn(), token)
        # Bounded: tokens are few, and junk tokens are not cached (they raise above).
        if len(self._cache) > 10_000:  # no mutate: a memory bound, not a result
            self._cache.clear()
        self._cache[token] = (self._clock() + self._ttl, caller)
        return caller


def require_role(caller: Caller, allowed: tuple[str, ...], superuser: str | None = "admin") -> None:
    """Raise :class:`Forbidden` unless the caller's role is allowed (``superuser`` always is)."""
    if caller.role != superuser and caller.role not in allowed:
        raise Forbidden(f"this needs one of the roles {', '.join(allowed)}; "
                        f"the token {caller.name!r} has role {caller.role!r}")
