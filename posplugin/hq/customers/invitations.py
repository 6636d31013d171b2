"""Invitations after a sale, the lawful way.

An ``amplify`` prompt tells staff in the store what to offer; the invitation
to share or review reaches the customer later, on their page (/me), once
``invite_delay_hours`` have passed since the sale (requests that come at once
lower posting; later ones raise it). A store sends each after-sale
invitation with the customer's keyed hash; head office keeps it only for a
customer who agreed to invitations, and drops the rest on receipt. Where the
chain rewards a post (``invite_reward``), the invitation carries the
disclosure the customer must use: a rewarded post is advertising, whatever
the follower count. The rule is written out in docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from ... import texts
from ...errors import ValidationError
from ...timeutil import iso, parse_iso
from ..schema import invitations

HOUR = 3600.0
# An invitation is an invitation for a while, not for ever: gone this long after it was shown.
KEEP_S = 90 * 24 * HOUR
REWARDS = ("none", "sample", "discount", "event")


class Invitations:
    """Invitations stores send, kept for customers who agreed to them."""

    def __init__(self, engine, clock, *, delay_hours: float = 24, reward: str = "none"):
        self.engine = engine
        self.clock = clock
        self.delay_s = delay_hours * HOUR
        self.reward = reward if reward in REWARDS else "none"

    def receive(self, store: str, items: list[dict], agreed: Callable[[str], bool]) -> dict:
        """Keep each of a store's invitations whose customer ``agreed`` to
        invitations; an invitation already received (same store and ref) is
        not kept twice. Returns how many arrived and how many were kept."""
        now, kept = self.clock(), 0
        for i, item in enumerate(items):
            try:
                item["sold_at_s"] = parse_iso(item["sold_at"])
            except ValueError:
                raise ValidationError("sold_at must be an ISO-8601 time with a zone",
                                      field=f"invitations.{i}.sold_at") from None
        for item in items:
            id_hash = item["customer"].lower()
            if not agreed(id_hash):
                continue
            sold_at = item["sold_at_s"]
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(invitations).values(
                        store=store, ref=str(item["ref"]), id_hash=id_hash, sold_at=sold_at,
                        due_at=sold_at + self.delay_s, reward=self.reward, received_at=now))
                kept += 1
            except IntegrityError:
                pass  # the same invitation again: a store retrying a batch
        return {"received": len(items), "kept": kept}

    def ask_to_share(self, store: str, ref: str, id_hash: str, posted_at: float) -> bool:
        """An invitation to share a post of the customer's that head office
        heard (praise): due at once, with the same reward and disclosure as
        after-sale ones. The caller checks that the customer agreed to
        invitations. False when this one was sent before."""
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(invitations).values(
                    store=store, ref=ref, id_hash=id_hash.lower(), sold_at=posted_at, due_at=now,
                    reward=self.reward, received_at=now, kind="heard"))
        except IntegrityError:
            return False
        return True

    def due(self, hashes: list[str], language: str = "en") -> list[dict]:
        """The customer's invitations whose delay has passed, newest first, with
        the words and, for a rewarded post, the disclosure to use."""
        if not hashes:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(invitations).where(and_(
                invitations.c.id_hash.in_(hashes), invitations.c.due_at <= self.clock()))
                .order_by(invitations.c.sold_at.desc())).all()
        return [self._words(r, language) for r in rows]

    def _words(self, row, language: str) -> dict:
        rewarded = row.reward != "none"
        # sold_at: the sale, or for a heard post the time it was posted.
        return {"id": row.id, "kind": row.kind, "sold_at": iso(row.sold_at), "due_at": iso(row.due_at),
                "reward": row.reward,
                "text": texts.message("invite.text_heard" if row.kind == "heard" else "invite.text", language),
                "reward_text": texts.message(f"invite.reward.{row.reward}", language) if rewarded else None,
                "disclosure": texts.message("invite.disclosure", language,
                                            reward=texts.message(f"invite.reward.{row.reward}", language))
                if rewarded else None}

    def all_for(self, hashes: list[str]) -> list[dict]:
        """Every invitation held for these hashes, due or not (for an export)."""
        if not hashes:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(invitations).where(invitations.c.id_hash.in_(hashes))
                                .order_by(invitations.c.id)).all()
        return [{"store": r.store, "kind": r.kind, "sold_at": iso(r.sold_at), "due_at": iso(r.due_at),
                 "reward": r.reward, "received_at": iso(r.received_at)} for r in rows]

    def erase(self, hashes: list[str]) -> int:
        """Delete every invitation held for these hashes; how many."""
        if not hashes:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(delete(invitations).where(invitations.c.id_hash.in_(hashes))).rowcount

    def purge(self, keep_s: float = KEEP_S) -> int:
        """Delete invitations due more than ``keep_s`` ago; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(invitations).where(invitations.c.due_at < self.clock() - keep_s)).rowcount
