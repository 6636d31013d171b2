"""What the customer's page (/me) needs from the join side, read through one
module: who is signed in and what they proved and agreed to
(:mod:`posplugin.hq.customers`), their linked accounts (:mod:`posplugin.hq.accounts`,
figures by :mod:`posplugin.hq.metrics`); and the two things only /me does to
the join side's records: export everything held, and erase it.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, delete, select

from ...errors import NotFound
from ...timeutil import iso
from ..platforms.oauth import PlatformError, Token
from ..schema import (
    consents,
    customer_identifiers,
    customer_sessions,
    customers,
    join_codes,
    linked_accounts,
    oauth_states,
)
from .accounts import Accounts
from .collector import Collector
from .join import Customers, SignedIn
from .vault import VaultError

__all__ = ["CustomerSource", "SignedIn"]
log = logging.getLogger("posplugin.hq.me")


class CustomerSource:
    """The join side, as /me sees it."""

    def __init__(self, customers_: Customers, accounts: Accounts, collector: Collector):
        self.customers = customers_
        self.accounts_service = accounts
        self.collector = collector
        self.engine = customers_.engine
        self.clock = customers_.clock

    def signed_in(self, token: str | None) -> SignedIn:
        """The customer holding session ``token``; raises ``Unauthorized`` (401)."""
        return self.customers.signed_in(token)

    def identifiers(self, customer_id: int) -> list[tuple[str, str]]:
        return self.customers.identifier_hashes(customer_id)

    def consent(self, customer_id: int) -> dict | None:
        return self.customers.consent(customer_id)

    def consent_history(self, customer_id: int) -> list[dict]:
        return self.customers.consent_history(customer_id)

    def withdraw(self, customer_id: int) -> bool:
        return self.customers.withdraw_consent(customer_id)

    def agreed_to_invitations(self, id_hash: str) -> bool:
        """Whether the customer with this identifier hash has a consent in force
        that includes invitations."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(consents.c.scopes)
                .join(customer_identifiers, customer_identifiers.c.customer_id == consents.c.customer_id)
                .join(customers, customers.c.id == consents.c.customer_id)
                .where(and_(customer_identifiers.c.id_hash == id_hash, consents.c.withdrawn_at.is_(None),
                            customers.c.deleted_at.is_(None)))).all()
        return any("invitations" in (r.scopes or "").split(",") for r in rows)

    # -- linked accounts -------------------------------------------------------

    def accounts(self, customer_id: int) -> list[dict]:
        """Linked accounts: id, platform, handle, followers, engagement_rate,
        measured_at (epoch seconds or None), status, linked_at."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.customer_id == customer_id, linked_accounts.c.status != "unlinked"))
                .order_by(linked_accounts.c.platform)).all()
        return [{"id": r.id, "platform": r.platform, "handle": r.handle, "source": r.source,
                 "followers": r.followers, "engagement_rate": r.engagement_rate, "posts": r.posts,
                 "measured_at": r.measured_at, "linked_at": iso(r.linked_at),
                 "status": r.status if r.status != "linked" or r.measured_at else ("failing" if r.failures else
                                                                                   "linked"),
                 "last_error": r.last_error} for r in rows]

    def _row(self, customer_id: int, account_id: int):
        with self.engine.connect() as conn:
            row = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.id == account_id, linked_accounts.c.customer_id == customer_id,
                linked_accounts.c.status != "unlinked"))).first()
        if row is None:
            raise NotFound(f"no linked account {account_id}")
        return row

    def refresh(self, customer_id: int, account_id: int) -> dict:
        """Measure one account now, through the collector (token refreshed if due)."""
        self.collector.refresh_one(self._row(customer_id, account_id).id)
        return next(a for a in self.accounts(customer_id) if a["id"] == account_id)

    def unlink(self, customer_id: int, account_id: int) -> dict:
        """Unlink an account: its token is revoked at the platform where the
        platform offers revocation, then dropped with its figures."""
        row = self._row(customer_id, account_id)
        revoked = self._revoke(row)
        self.accounts_service.unlink(customer_id, row.platform)
        return {"platform": row.platform, "revoked": revoked}

    def _revoke(self, row) -> bool:
        """Ask the platform to take the token back, where it offers that (a
        platform object with ``revoke(token)``); whether it did."""
        platform = self.collector.platforms.get(row.platform)
        if not row.token or platform is None or not callable(getattr(platform, "revoke", None)):
            return False
        try:
            platform.revoke(Token.from_json(self.collector.vault.open(row.token)))
        except (PlatformError, VaultError, ValueError, KeyError) as exc:
            log.warning("%s: token not revoked at the platform (%s)", row.platform, exc.__class__.__name__)
            return False
        return True

    # -- export and erasure ------------------------------------------------------

    def export(self, customer_id: int) -> dict:
        """Everything the join side holds about the customer. Secrets (tokens,
        session and code hashes) are said to exist, not shown."""
        hashes = [h for _, h in self.identifiers(customer_id)]
        with self.engine.connect() as conn:
            row = conn.execute(select(customers).where(customers.c.id == customer_id)).first()
            identifiers = conn.execute(select(customer_identifiers).where(
                customer_identifiers.c.customer_id == customer_id)).all()
            sessions = conn.execute(select(customer_sessions).where(
                customer_sessions.c.customer_id == customer_id)).all()
            codes = conn.execute(select(join_codes).where(join_codes.c.id_hash.in_(hashes))).all() if hashes else []
            accounts = conn.execute(select(linked_accounts).where(
                linked_accounts.c.customer_id == customer_id)).all()
        return {
            "customer": {"id": customer_id, "joined_at": iso(row.created_at) if row else None},
            "identifiers": [{"type": r.id_type, "hash": r.id_hash, "verified_at": iso(r.verified_at)}
                            for r in identifiers],
            "consents": self.consent_history(customer_id),
            "accounts": [{"platform": a.platform, "source": a.source, "account_id": a.account_id,
                          "handle": a.handle, "status": a.status, "linked_at": iso(a.linked_at),
                          "followers": a.followers, "engagement_rate": a.engagement_rate, "posts": a.posts,
                          "measured_at": iso(a.measured_at), "last_error": a.last_error,
                          "token_held": a.token is not None} for a in accounts],
            "sessions": [{"created_at": iso(s.created_at), "expires_at": iso(s.expires_at),
                          "ended_at": iso(s.ended_at)} for s in sessions],
            "codes": [{"sent_at": iso(c.created_at), "used_at": iso(c.used_at), "tries": c.tries} for c in codes],
        }

    def erase(self, customer_id: int) -> dict:
        """Delete every record the join side holds about the customer (tokens
        revoked at platforms that offer it first); says which were revoked."""
        hashes = [h for _, h in self.identifiers(customer_id)]
        with self.engine.connect() as conn:
            rows = conn.execute(select(linked_accounts).where(linked_accounts.c.customer_id == customer_id)).all()
        revoked = [row.platform for row in rows if self._revoke(row)]
        with self.engine.begin() as conn:
            conn.execute(delete(linked_accounts).where(linked_accounts.c.customer_id == customer_id))
            conn.execute(delete(oauth_states).where(oauth_states.c.customer_id == customer_id))
            conn.execute(delete(customer_sessions).where(customer_sessions.c.customer_id == customer_id))
            conn.execute(delete(consents).where(consents.c.customer_id == customer_id))
            if hashes:
                conn.execute(delete(join_codes).where(join_codes.c.id_hash.in_(hashes)))
            conn.execute(delete(customer_identifiers).where(customer_identifiers.c.customer_id == customer_id))
            conn.execute(delete(customers).where(customers.c.id == customer_id))
        return {"identifiers": len(hashes), "accounts": len(rows), "revoked": revoked}
