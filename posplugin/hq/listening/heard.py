"""What head office heard: a post is kept only when it is addressed to the
chain (a mention or tag the source found, or ``chain_handles`` in its text)
or is a consented customer's own; anything else is dropped at once and never
written. A kept post is classified, routed to a store, and waits for that
store to fetch it (``floor``: ``waiting``), unless it is older than
``heard_max_age_minutes`` (``old``: the inbox only) or names no store
(``none``). The same post (source and id) is kept once, however often a
platform delivers it. Text is cleared after ``heard_retention_days``.

Stores send back when each post's prompt was made, taken and resolved, and
the visits of customers who consented to listening (keyed hash and time);
head office records replies. The inbox and its response figures read the same rows.
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, func, or_, select, true, update

from ...errors import NotFound, ValidationError
from ...timeutil import iso
from ..db import insert
from ..schema import (
    consents,
    customer_identifiers,
    customers,
    heard_posts,
    hq_tokens,
    linked_accounts,
    listening_visits,
)
from .classify import Classifier
from .mentions import mentions, parse_handles
from .placement import Place, Placements
from .posts import Post, excerpt, floor_url
from .route import route

log = logging.getLogger("posplugin.hq.listening")
DAY = 86_400.0
POSTS_7_S = 7 * DAY
FLOOR_STATES = ("waiting", "old", "none")


def listening_consented(customer_column):
    """A SQL condition: the customer has a consent in force that covers listening."""
    return exists(select(consents.c.id).where(and_(
        consents.c.customer_id == customer_column, consents.c.withdrawn_at.is_(None),
        consents.c.scopes.like("%listening%"))))


@dataclass
class Figures:
    """Seconds from post to each step, over the posts that reached it."""

    @staticmethod
    def of(rows: list[dict]) -> dict:
        out = {"heard": len(rows), "complaints": sum(1 for r in rows if r["tone"] == "complaint"),
               "praise": sum(1 for r in rows if r["tone"] == "praise")}
        for step in ("prompt", "taken", "resolved", "replied"):
            values = sorted(r[f"to_{step}_s"] for r in rows if r[f"to_{step}_s"] is not None)
            out[f"to_{step}"] = {"n": len(values),
                                 "median_s": statistics.median(values) if values else None,
                                 "p95_s": values[min(len(values) - 1, int(0.95 * len(values)))] if values else None}
        return out


class Listening:
    """Head office's listening, over its database (``engine``)."""

    def __init__(self, engine: Engine, *, clock, chain_handles: str = "", max_age_minutes: float = 120,
                 retention_days: float = 30, classifier: Classifier | None = None):
        self.engine = engine
        self.clock = clock
        self.handles = parse_handles(chain_handles)
        self.max_age_s = max_age_minutes * 60.0
        self.retention_s = retention_days * DAY
        self.classifier = classifier or Classifier()
        self.placements = Placements(engine, clock)

    @classmethod
    def from_settings(cls, engine: Engine, settings, *, clock, plugins=None) -> "Listening":
        return cls(engine, clock=clock, chain_handles=settings.chain_handles,
                   max_age_minutes=settings.heard_max_age_minutes, retention_days=settings.heard_retention_days,
                   classifier=Classifier.from_settings(settings, plugins))

    # -- hearing -----------------------------------------------------------

    def hear(self, post: Post) -> dict | None:
        """Keep, classify and route ``post`` if head office may; None when it
        was dropped. A post heard before is answered as it was, not kept twice."""
        customer = self._consented_customer(post)
        chain = mentions(post.text, self.handles)
        if not (post.addressed or chain or customer):
            log.debug("dropped a %s post that is neither addressed to the chain nor a consented customer's",
                      post.source)
            return None
        known = self._get_by_post(post.source, post.id)
        if known:
            return {**known, "duplicate": True}
        verdict = self.classifier.classify(post.text, post.language)
        now = self.clock()
        where = route(post.text, self._places(), given=post.store, location=post.location,
                      visit_store=self._visit_store(customer, post.at) if customer else None)
        if not (post.addressed or chain) and where.store is None:
            # A consented customer's post that is about none of the stores: not ours to keep.
            return None
        floor = "none" if where.store is None else ("waiting" if post.at >= now - self.max_age_s else "old")
        row = dict(source=post.source[:32], post_id=post.id[:300], url=post.url or "", text=post.text,
                   language=verdict.language, posted_at=post.at, received_at=now, customer_id=customer,
                   mentions_chain=int(chain), about=verdict.about, tone=verdict.tone,
                   why=json.dumps(list(verdict.why), ensure_ascii=False), store=where.store, lane=where.lane,
                   routed_by=where.how, floor=floor)
        with self.engine.begin() as conn:
            conn.execute(insert(self.engine, heard_posts).values(**row)
                         .on_conflict_do_nothing(index_elements=["source", "post_id"]))
        kept = self._get_by_post(post.source, post.id)
        log.info("heard a post on %s: %s, %s, routed by %s%s", post.source, kept["about"], kept["tone"],
                 kept["routed_by"], f" to {kept['store']}" if kept["store"] else "")
        return kept

    def _consented_customer(self, post: Post) -> int | None:
        """The customer whose own post this is, if they consented to listening."""
        with self.engine.connect() as conn:
            if post.customer_id is not None:
                return post.customer_id if conn.execute(select(customers.c.id).where(and_(
                    customers.c.id == post.customer_id, customers.c.deleted_at.is_(None),
                    listening_consented(customers.c.id)))).first() else None
            if not post.author:
                return None
            platform = post.source.split(":")[-1]
            author = post.author.lstrip("@").casefold()
            return conn.scalar(select(linked_accounts.c.customer_id).where(and_(
                linked_accounts.c.platform == platform, linked_accounts.c.status == "linked",
                or_(func.lower(linked_accounts.c.handle) == author, linked_accounts.c.account_id == post.author),
                listening_consented(linked_accounts.c.customer_id))).limit(1))

    def _places(self) -> list[Place]:
        placed = self.placements.all()
        named = {p.store for p in placed}
        with self.engine.connect() as conn:
            stores = conn.scalars(select(hq_tokens.c.name).where(hq_tokens.c.role == "store").distinct()).all()
        return placed + [Place(name) for name in stores if name not in named]

    def _visit_store(self, customer_id: int, at: float) -> str | None:
        """The store of the customer's latest reported visit within the max age before ``at``."""
        with self.engine.connect() as conn:
            return conn.scalar(select(listening_visits.c.store).where(and_(
                listening_visits.c.id_hash.in_(select(customer_identifiers.c.id_hash)
                                               .where(customer_identifiers.c.customer_id == customer_id)),
                listening_visits.c.at <= at, listening_visits.c.at >= at - self.max_age_s))
                .order_by(listening_visits.c.at.desc()).limit(1))

    def _get_by_post(self, source: str, post_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(heard_posts).where(and_(heard_posts.c.source == source[:32],
                                                              heard_posts.c.post_id == post_id[:300]))).first()
        return _json(row, self.clock()) if row else None

    def get(self, heard_id: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(heard_posts).where(heard_posts.c.id == heard_id)).first()
        if row is None:
            raise NotFound(f"nothing heard with id {heard_id}")
        return _json(row, self.clock())

    # -- the store's side ----------------------------------------------------

    def latest_for(self, store: str) -> int:
        """The newest post id waiting for ``store`` (0: none): the poll's ETag."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.max(heard_posts.c.id)).where(and_(
                heard_posts.c.store == store, heard_posts.c.floor == "waiting"))) or 0

    def for_store(self, store: str, after: int = 0, limit: int = 100) -> list[dict]:
        """What ``store``'s floor should show: its waiting posts after id
        ``after`` still younger than the max age, without who wrote them.
        Those that aged out waiting go to the inbox only."""
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(heard_posts).where(and_(
                heard_posts.c.store == store, heard_posts.c.floor == "waiting", heard_posts.c.prompt_at.is_(None),
                heard_posts.c.posted_at < now - self.max_age_s)).values(floor="old"))
            rows = conn.execute(select(heard_posts).where(and_(
                heard_posts.c.store == store, heard_posts.c.floor == "waiting", heard_posts.c.id > after))
                .order_by(heard_posts.c.id).limit(limit)).all()
            if rows:
                conn.execute(update(heard_posts).where(and_(heard_posts.c.id.in_([r.id for r in rows]),
                                                            heard_posts.c.fetched_at.is_(None)))
                             .values(fetched_at=now))
        return [{"id": r.id, "source": r.source, "url": floor_url(r.url), "excerpt": excerpt(r.text or ""),
                 "about": r.about, "tone": r.tone, "why": json.loads(r.why), "lane": r.lane,
                 "language": r.language, "posted_at": iso(r.posted_at),
                 # When the post is too old for the floor: its prompt leaves the floor then.
                 "floor_until": iso(r.posted_at + self.max_age_s)} for r in rows]

    def floor_report(self, store: str, updates: list[dict], visits: list[dict]) -> dict:
        """A store says when its heard prompts were made, taken and resolved
        (epoch seconds; the earliest report of each step counts), and reports
        consented customers' visits (keyed hash, time)."""
        changed = 0
        with self.engine.begin() as conn:
            for u in updates:
                values = {f"{step}_at": func.coalesce(heard_posts.c[f"{step}_at"], u[f"{step}_at"])
                          for step in ("prompt", "taken", "resolved") if u.get(f"{step}_at") is not None}
                if values:
                    changed += conn.execute(update(heard_posts).where(and_(
                        heard_posts.c.id == u["id"], heard_posts.c.store == store)).values(**values)).rowcount
            kept = 0
            for v in visits:
                kept += conn.execute(insert(self.engine, listening_visits).values(
                    store=store, id_hash=v["customer"], at=v["at"]).on_conflict_do_nothing()).rowcount or 0
        return {"updated": changed, "visits": kept}

    def consented_hashes(self) -> list[str]:
        """Keyed hashes (hex) of customers who consented to listening: the
        stores report only these customers' visits."""
        with self.engine.connect() as conn:
            return sorted(conn.scalars(select(customer_identifiers.c.id_hash).where(
                listening_consented(customer_identifiers.c.customer_id))))

    # -- the inbox -----------------------------------------------------------

    def inbox(self, *, store: str | None = None, tone: str | None = None, about: str | None = None,
              since: float | None = None, limit: int = 200) -> dict:
        """Everything heard, newest first, with response figures per store and for the chain."""
        where = []
        if store:
            where.append(heard_posts.c.store == store)
        if tone:
            where.append(heard_posts.c.tone == tone)
        if about:
            where.append(heard_posts.c.about == about)
        if since is not None:
            where.append(heard_posts.c.posted_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(select(heard_posts).where(and_(true(), *where)).order_by(heard_posts.c.posted_at.desc())
                                .limit(limit)).all()
        now = self.clock()
        posts = [_json(r, now) for r in rows]
        stores = sorted({p["store"] for p in posts if p["store"]})
        return {"heard": posts, "figures": {"chain": Figures.of(posts),
                                            "stores": {s: Figures.of([p for p in posts if p["store"] == s])
                                                       for s in stores}}}

    def reply(self, heard_id: int, by: str) -> dict:
        """Record that ``by`` answered the post online (the first answer counts)."""
        self.get(heard_id)
        with self.engine.begin() as conn:
            conn.execute(update(heard_posts).where(and_(heard_posts.c.id == heard_id,
                                                        heard_posts.c.replied_at.is_(None)))
                         .values(replied_at=self.clock(), replied_by=by))
        return self.get(heard_id)

    def share_candidate(self, heard_id: int) -> tuple[dict, int, float]:
        """The post, its customer and when it was posted, if it is praise from
        a consented customer; raises otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(select(heard_posts).where(heard_posts.c.id == heard_id)).first()
        if row is None:
            raise NotFound(f"nothing heard with id {heard_id}")
        if row.tone != "praise" or row.customer_id is None:
            raise ValidationError("only praise from a customer who consented to listening can be asked to share",
                                  field="id")
        return _json(row, self.clock()), row.customer_id, row.posted_at

    def mark_share_asked(self, heard_id: int) -> dict:
        with self.engine.begin() as conn:
            conn.execute(update(heard_posts).where(heard_posts.c.id == heard_id)
                         .values(share_asked_at=self.clock()))
        return self.get(heard_id)

    # -- the customer's own ------------------------------------------------------

    def of_customer(self, customer_id: int) -> list[dict]:
        """What was heard from this customer, for their page."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(heard_posts).where(and_(heard_posts.c.customer_id == customer_id,
                                                               heard_posts.c.text.is_not(None)))
                                .order_by(heard_posts.c.posted_at.desc(), heard_posts.c.id.desc())).all()
        return [{"id": r.id, "source": r.source, "url": r.url, "text": r.text, "posted_at": iso(r.posted_at),
                 "about": r.about, "tone": r.tone, "store": r.store} for r in rows]

    def remove_for_customer(self, customer_id: int, heard_id: int | None = None) -> int:
        """Clear the text (and the link to them) of one or all of a customer's heard posts."""
        condition = heard_posts.c.customer_id == customer_id
        if heard_id is not None:
            condition = and_(condition, heard_posts.c.id == heard_id)
        with self.engine.begin() as conn:
            return conn.execute(update(heard_posts).where(condition).values(
                text=None, url="", customer_id=None, purged_at=self.clock())).rowcount

    def forget_customer(self, customer_id: int, id_hashes: list[str]) -> dict:
        """A customer deleted their account: clear what was heard from them and
        drop the visits stores reported under their keyed hashes."""
        posts = self.remove_for_customer(customer_id)
        with self.engine.begin() as conn:
            visits = conn.execute(delete(listening_visits).where(listening_visits.c.id_hash.in_(id_hashes))
                                  ).rowcount if id_hashes else 0
        return {"posts": posts, "visits": visits}

    # -- housekeeping ------------------------------------------------------------

    def purge(self) -> dict:
        """Clear the text of posts older than ``heard_retention_days``; drop
        reported visits once neither routing nor posts_7 can use them."""
        now = self.clock()
        with self.engine.begin() as conn:
            texts = conn.execute(update(heard_posts).where(and_(
                heard_posts.c.posted_at < now - self.retention_s, heard_posts.c.text.is_not(None)))
                .values(text=None, url="", purged_at=now)).rowcount
            visits = conn.execute(delete(listening_visits).where(
                listening_visits.c.at < now - max(self.retention_s, POSTS_7_S) - POSTS_7_S)).rowcount
        return {"texts": texts, "visits": visits}


def _seconds(later, posted) -> float | None:
    return None if later is None else max(0.0, later - posted)


def _json(row, now: float) -> dict:
    """A heard post for the inbox (head office only: never the author)."""
    return {"id": row.id, "source": row.source, "post_id": row.post_id, "url": row.url,
            "text": row.text, "excerpt": excerpt(row.text or ""), "language": row.language,
            "posted_at": iso(row.posted_at), "received_at": iso(row.received_at),
            "from_customer": row.customer_id is not None, "mentions_chain": bool(row.mentions_chain),
            "about": row.about, "tone": row.tone, "why": json.loads(row.why), "store": row.store,
            "lane": row.lane, "routed_by": row.routed_by, "floor": row.floor,
            "status": _status(row), "fetched_at": iso(row.fetched_at), "prompt_at": iso(row.prompt_at),
            "taken_at": iso(row.taken_at), "resolved_at": iso(row.resolved_at),
            "replied_at": iso(row.replied_at), "replied_by": row.replied_by,
            "share_asked_at": iso(row.share_asked_at), "text_purged": row.text is None,
            "to_prompt_s": _seconds(row.prompt_at, row.posted_at), "to_taken_s": _seconds(row.taken_at, row.posted_at),
            "to_resolved_s": _seconds(row.resolved_at, row.posted_at),
            "to_replied_s": _seconds(row.replied_at, row.posted_at)}


def _status(row) -> str:
    """Where the post stands on the floor: inbox only, too old, waiting, on the floor, taken, resolved."""
    if row.floor != "waiting":
        return "inbox" if row.floor == "none" else "too_old"
    for step in ("resolved", "taken", "prompt"):
        if getattr(row, f"{step}_at") is not None:
            return {"prompt": "on_floor"}.get(step, step)
    return "sent" if row.fetched_at is not None else "waiting"
