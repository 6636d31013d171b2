"""A holdout experiment with a known, made-up effect: for the demo (so the
head office page shows an experiment with its interval) and for the tests and
the coverage report that check the statistics against the truth.

Customers are random identifier hashes put in arms by the real assignment
(:func:`posplugin.tiers.holdout.arm`); whether they return is drawn with a
rate that is higher by ``effect`` for served customers at levels that get a
prompt. Everything is deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .. import texts
from ..store import experiment, prompts
from ..store.sync import sync_once
from ..store.visits import Visit
from ..tiers.holdout import HOLDOUT, SERVED, arm

DAY = 86_400.0
DEMO_EXPERIMENT = "demo-holdout"
DEMO_SHARE = 0.2
# The demo's true effects on returning within 7 days, per level: recognised
# Murdoch-level customers come back more, priority a little, standard not at
# all (no prompt in either arm).
DEMO_BASE_RATE = 0.30
DEMO_EFFECTS = {"murdoch": 0.12, "priority": 0.04, "standard": 0.0}
# After-sale invitations: offered to a third of influencers, accepted by half
# of those, by 10 points more when they were recognised at the till.
DEMO_INVITED = 0.33
DEMO_ACCEPTED = 0.5
DEMO_ACCEPT_EFFECT = 0.10


@dataclass
class Counts:
    """Customers and successes per arm."""

    served_n: int = 0
    served_x: int = 0
    holdout_n: int = 0
    holdout_x: int = 0


def simulate_arms(rng: random.Random, customers: int, id_key: str, name: str, share: float,
                  base_rate: float, effect: float) -> Counts:
    """``customers`` random customers through the real assignment; served ones
    succeed with ``base_rate + effect``, held-out ones with ``base_rate``."""
    counts = Counts()
    for _ in range(customers):
        if arm(id_key, name, rng.randbytes(32), share) == HOLDOUT:
            counts.holdout_n += 1
            counts.holdout_x += rng.random() < base_rate
        else:
            counts.served_n += 1
            counts.served_x += rng.random() < base_rate + effect
    return counts


def backfill(store, customers, rng: random.Random, *, name: str = DEMO_EXPERIMENT, share: float = DEMO_SHARE,
             days: int = 40) -> int:
    """Write ``days`` of past visits of ``customers`` ((hash, tier, level,
    engaged reach) each) into ``store`` as if the experiment had run: first visits spread
    over the days, returns drawn with :data:`DEMO_EFFECTS`, sale totals. Returns
    visits written. The outcomes then go the real way (tracked, matured,
    reported through the outbox)."""
    now = store.clock()
    written = 0
    with store.db.write() as conn:
        for customer, tier, level, reach in customers:
            group = arm(store.settings.id_key, name, customer, share)
            first = now - rng.uniform(8, days) * DAY
            effect = DEMO_EFFECTS[level] if group == SERVED else 0.0
            visits = [first]
            if rng.random() < DEMO_BASE_RATE + effect:
                visits.append(first + rng.uniform(1, 7) * DAY)
            elif rng.random() < 0.3:
                visits.append(first + rng.uniform(8, 30) * DAY)
            if level != "standard" and first < now - 3600 and rng.random() < DEMO_INVITED and \
                    rng.random() < DEMO_ACCEPTED + (DEMO_ACCEPT_EFFECT if group == SERVED else 0.0):
                _accepted_invitation(conn, prompts.next_id(store.db), customer, level, first)
            for at in visits:
                if at > now - 60:
                    continue
                spend = round(rng.lognormvariate(5.5, 0.6) * (1.1 if effect else 1.0), 2)
                store.visits.insert(conn, Visit(store.visits.next_id(), at, str(rng.randint(1, 4)), customer, "till",
                                                True, tier, level, reach, arm=group, experiment=name,
                                                sale_total=spend))
                written += 1
    return written


def _accepted_invitation(conn, prompt_id: int, customer: bytes, level: str, at: float) -> None:
    """An after-sale invitation for ``customer`` after their visit at ``at``,
    accepted (resolved). Declined ones are not written: an open invitation
    from weeks ago would sit on the floor tablet."""
    prompts.past_resolved(conn, prompt_id, kind="amplify", level=level, lane="1", title="Invite to share (simulated)",
                          body="A simulated after-sale invitation of the demo experiment.", created_at=at + 300,
                          resolved_at=at + 900, by="demo", customer=customer)


def served_name(store, example) -> str:
    """The demo experiment's name: the first of ``demo-holdout``,
    ``demo-holdout-2``, … that serves the banner customer, so the pass shown
    at the till gets its Murdoch-level prompt (the key is new each demo)."""
    key = store.hasher(example.id_type, example.value)
    for n in range(1, 100):
        name = DEMO_EXPERIMENT if n == 1 else f"{DEMO_EXPERIMENT}-{n}"
        if arm(store.settings.id_key, name, key, DEMO_SHARE) != HOLDOUT:
            return name
    return DEMO_EXPERIMENT


def run_demo_experiment(demo, customers, seed: int = 42, tell=None) -> dict | None:
    """Head office starts the demo's experiment (once per data folder), the
    store syncs it, weeks of simulated visits with a known effect are written,
    tracked and reported: the head office page shows the uplift. ``tell``
    narrates (see :class:`~posplugin.demo.narrator.Narrator`)."""
    office, store = demo.office, demo.store
    name = served_name(store, demo.example)
    if office.experiments.get(name) is None:
        office.experiments.start(name, DEMO_SHARE)
        rng = random.Random(seed)
        picked = []
        for customer, row in customers:
            if row["consent"] != "yes":
                continue
            key = store.hasher(customer.id_type, customer.value)
            record = store.tiers.lookup(key)
            if record is not None:
                score = store.policy.score(record.followers, record.engagement_rate)
                picked.append((key, score.tier, score.service_level, score.engaged_reach))
        sync_once(store)  # the experiment reaches the store in the signed manifest
        visits = backfill(store, rng.sample(picked, min(len(picked), 6000)), rng, name=name)
        experiment.track(store.db, store.clock())
        sync_once(store)
        if tell:
            language = store.settings.language
            tell("experiment", name=name, share=texts.percent(DEMO_SHARE, language),
                 visits=texts.number(visits, language), murdoch=texts.percent(DEMO_EFFECTS["murdoch"], language),
                 priority=texts.percent(DEMO_EFFECTS["priority"], language),
                 accepted=texts.percent(DEMO_ACCEPT_EFFECT * DEMO_INVITED, language))
    return office.experiments.current()
