"""The experiment's fourth outcome, ``posts_7``: whether a customer posted
about the chain within 7 days of a visit, per arm, counted at head office
from what listening heard.

The unit is a customer's first visit to a store during the running
experiment, as the stores' outcomes are: for customers who consented to
listening (and so to measurement; a customer who withdrew is left out), the
stores report the visit's keyed hash and time. Head office knows each customer's arm (the chain key) and level
(their linked accounts' figures, by the tier policy). A unit counts once its
7 days are over; the counts are rewritten whole on each round, so a post
removed by its author, or a purge, never leaves a stale count. This module
wires :func:`posplugin.hq.listening.mentions.posts_after_visits`, which counts.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, delete, func, select

from ...tiers.holdout import arm
from ...tiers.policy import Policy
from ..db import insert
from ..schema import (
    customer_identifiers,
    experiment_outcomes,
    heard_posts,
    linked_accounts,
    listening_visits,
)
from .heard import listening_consented
from .mentions import WINDOW_S, posts_after_visits

log = logging.getLogger("posplugin.hq.listening")
METRIC = "posts_7"


def posts_7(engine, experiments, id_key: str, policy: Policy, now: float) -> int:
    """Rewrite the running experiment's ``posts_7`` counts; returns how many units counted."""
    running = experiments.current()
    if running is None or not id_key:
        return 0
    started = _ts(running["started_at"])
    with engine.connect() as conn:
        visits = conn.execute(select(listening_visits.c.store, listening_visits.c.id_hash,
                                     func.min(listening_visits.c.at), customer_identifiers.c.customer_id)
                              .join(customer_identifiers, customer_identifiers.c.id_hash == listening_visits.c.id_hash)
                              .where(and_(listening_visits.c.at >= started,
                                          listening_consented(customer_identifiers.c.customer_id)))
                              .group_by(listening_visits.c.store, listening_visits.c.id_hash,
                                        customer_identifiers.c.customer_id)).all()
        posts, levels = {}, {}
        for _, _, _, customer_id in visits:
            if customer_id not in posts:
                posts[customer_id] = [{"at": r[0], "text": "@chain" if r[1] else ""} for r in conn.execute(
                    select(heard_posts.c.posted_at, heard_posts.c.mentions_chain)
                    .where(heard_posts.c.customer_id == customer_id))]
                levels[customer_id] = _level(conn, customer_id, policy)
    cells: dict[tuple, list] = {}
    for store, id_hash, first_at, customer_id in visits:
        if first_at > now - WINDOW_S:
            continue  # not matured: its 7 days are not over
        side = arm(id_key, running["name"], bytes.fromhex(id_hash), running["holdout_share"])
        posted = 1 if posts_after_visits(posts[customer_id], [first_at], ("@chain",)) else 0
        cell = cells.setdefault((store, levels[customer_id], side), [0, 0.0])
        cell[0] += 1
        cell[1] += posted
    with engine.begin() as conn:
        conn.execute(delete(experiment_outcomes).where(and_(experiment_outcomes.c.experiment == running["name"],
                                                            experiment_outcomes.c.metric == METRIC)))
        for (store, level, side), (n, total) in cells.items():
            conn.execute(insert(engine, experiment_outcomes).values(
                experiment=running["name"], store=store, level=level, arm=side, metric=METRIC, n=n, total=total,
                total_sq=total))
    return sum(n for n, _ in cells.values())


def _level(conn, customer_id: int, policy: Policy) -> str:
    rows = conn.execute(select(linked_accounts.c.followers, linked_accounts.c.engagement_rate).where(and_(
        linked_accounts.c.customer_id == customer_id, linked_accounts.c.followers.is_not(None)))).all()
    scores = [policy.score(f, r or 0.0) for f, r in rows]
    best = max(scores, key=lambda s: s.engaged_reach, default=None)
    return best.service_level if best else "standard"


def _ts(value) -> float:
    from ...timeutil import parse_iso
    return value if isinstance(value, (int, float)) else parse_iso(value)


class ListeningWork:
    """Listening's part of head office's background round: purge old text, count posts_7."""

    def __init__(self, hub, office):
        self.hub = hub
        self.office = office
        self.policy = Policy.from_settings(hub.settings)

    def housekeeping(self) -> list:
        return [self.purge, self.count]

    def purge(self) -> None:
        self.hub.listening.purge()

    def count(self) -> None:
        posts_7(self.office.engine, self.office.experiments, self.office.id_key, self.policy, self.office.clock())
