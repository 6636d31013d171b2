"""What the customer's page (/me) needs from the join side: who is signed
in, their proven identifiers, consent, and linked accounts.

STAND-IN: the join work (one-time codes, consent, sessions, linked accounts)
is being built beside this; until it lands, this module keeps the smallest
in-memory version of it, so /me can be built and tested. It is the only
module /me reads the join side through, and is replaced when join lands.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field

from ..errors import NotFound, Unauthorized
from ..timeutil import iso

COOKIE = "posplugin_customer"


@dataclass(frozen=True)
class SignedIn:
    """The customer behind a session: their id, and the type and keyed hash
    (hex) of the identifier they proved when they signed in."""

    customer_id: int
    id_type: str
    id_hash: str
    expires_at: float


@dataclass
class _Customer:
    identifiers: list[tuple[str, str]]
    consent: dict | None
    accounts: list[dict] = field(default_factory=list)


class CustomerSource:
    """Stand-in of the join side, in memory."""

    def __init__(self, engine, clock):
        self.engine = engine
        self.clock = clock
        self._customers: dict[int, _Customer] = {}
        self._sessions: dict[str, SignedIn] = {}
        self._lock = threading.Lock()

    # -- the stand-in's own way in (join's /join does this for real) ---------

    def join(self, id_type: str, id_hash: str, *, scopes=("tiering",), accounts=()) -> str:
        """A customer who proved ``id_hash`` and consented; returns a session token."""
        with self._lock:
            customer_id = len(self._customers) + 1
            now = self.clock()
            self._customers[customer_id] = _Customer(
                [(id_type, id_hash)],
                {"version": "stand-in", "scopes": list(scopes), "language": "en",
                 "given_at": iso(now), "withdrawn_at": None},
                [dict(a, id=i + 1) for i, a in enumerate(accounts)])
            token = "cs_" + secrets.token_urlsafe(24)
            self._sessions[_digest(token)] = SignedIn(customer_id, id_type, id_hash, now + 30 * 86400)
            return token

    # -- what /me uses ------------------------------------------------------

    def signed_in(self, token: str | None) -> SignedIn:
        """The customer holding session ``token``; raises :class:`Unauthorized`."""
        who = token and self._sessions.get(_digest(token))
        if not who or who.customer_id not in self._customers or who.expires_at <= self.clock():
            raise Unauthorized("sign in on /join first", code="not_signed_in")
        return who

    def identifiers(self, customer_id: int) -> list[tuple[str, str]]:
        return list(self._customers[customer_id].identifiers)

    def consent(self, customer_id: int) -> dict | None:
        c = self._customers[customer_id].consent
        return c if c and c["withdrawn_at"] is None else None

    def consent_history(self, customer_id: int) -> list[dict]:
        c = self._customers[customer_id].consent
        return [c] if c else []

    def withdraw(self, customer_id: int) -> bool:
        c = self._customers[customer_id].consent
        if c and c["withdrawn_at"] is None:
            c["withdrawn_at"] = iso(self.clock())
            return True
        return False

    def accounts(self, customer_id: int) -> list[dict]:
        """Linked accounts: id, platform, handle, followers, engagement_rate,
        measured_at (epoch seconds or None), status."""
        return [dict(a) for a in self._customers[customer_id].accounts]

    def refresh(self, customer_id: int, account_id: int) -> dict:
        account = self._account(customer_id, account_id)
        account["measured_at"] = self.clock()
        return dict(account)

    def unlink(self, customer_id: int, account_id: int) -> dict:
        """Remove a linked account; ``revoked`` says whether the platform took
        the token back (the stand-in has no platform)."""
        account = self._account(customer_id, account_id)
        self._customers[customer_id].accounts.remove(account)
        return {"platform": account["platform"], "revoked": False}

    def agreed_to_invitations(self, id_hash: str) -> bool:
        """Whether the customer with this identifier hash agreed to invitations."""
        for customer_id, c in self._customers.items():
            if any(h == id_hash for _, h in c.identifiers):
                consent = self.consent(customer_id)
                return bool(consent and "invitations" in consent["scopes"])
        return False

    def link_url(self, platform: str) -> str:
        return f"/join#link={platform}"

    def export(self, customer_id: int) -> dict:
        c = self._customers[customer_id]
        return {"identifiers": [{"type": t, "hash": h} for t, h in c.identifiers],
                "consents": self.consent_history(customer_id), "accounts": self.accounts(customer_id)}

    def erase(self, customer_id: int) -> dict:
        """Delete everything the join side holds about the customer; says what
        was removed and which platform tokens were revoked."""
        c = self._customers.pop(customer_id)
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.customer_id == customer_id]:
                del self._sessions[key]
        return {"identifiers": len(c.identifiers), "accounts": len(c.accounts), "revoked": []}

    def _account(self, customer_id: int, account_id: int) -> dict:
        for account in self._customers[customer_id].accounts:
            if account["id"] == account_id:
                return account
        raise NotFound(f"no linked account {account_id}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
