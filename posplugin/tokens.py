"""API tokens as both services issue them: random, shown once, stored only as
their SHA-256 digest; each held by a named caller with one role.

Which tokens exist is each service's own business (the store's ``tokens``
table in :mod:`posplugin.store.auth`, head office's ``hq_tokens`` in
:mod:`posplugin.hq.office`); how a token is made, read from a request,
looked up and checked against a route's roles is the same for both.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from .errors import Forbidden


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token's row id, its name and its role."""
    token_id: int
    name: str
    role: str


def new_token(prefix: str) -> str:
    """A fresh random token, ``prefix`` first (``pp_`` for a store's, ``hq_`` for head office's)."""
    return prefix + secrets.token_urlsafe(24)


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value, or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def require_role(caller: Caller, allowed: tuple[str, ...], superuser: str | None = "admin") -> None:
    """Raise :class:`Forbidden` unless the caller's role is allowed (``superuser`` always is)."""
    if caller.role != superuser and caller.role not in allowed:
        raise Forbidden(f"this needs one of the roles {', '.join(allowed)}; "
                        f"the token {caller.name!r} has role {caller.role!r}")


class CachedLookup:
    """``lookup(token) -> Caller`` with a short-lived cache: a token is checked
    against the database at most every ``ttl_s`` seconds, so a revoked token
    stops working within that time. ``lookup`` raises for a bad token, and
    bad tokens are never cached."""

    def __init__(self, lookup: Callable[[str | None], Caller], ttl_s: float = 5.0, clock=time.monotonic):
        self._lookup = lookup
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Caller]] = {}

    def __call__(self, token: str | None) -> Caller:
        if token:
            hit = self._cache.get(token)
            if hit and hit[0] > self._clock():
                return hit[1]
        caller = self._lookup(token)
        # Bounded: tokens are few, and junk tokens are not cached (they raise above).
        if len(self._cache) > 10_000:  # no mutate: a memory bound, not a result
            self._cache.clear()
        self._cache[token] = (self._clock() + self._ttl, caller)
        return caller
