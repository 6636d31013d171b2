"""``posplugin hq tiers build``: the next signed version from everything
consented and fresh.

Each customer with a consent in force that covers tiering, and at least one
account measured within ``metrics_max_age_days``, is one tier record: the
figures of their account with the largest engaged reach (followers ×
engagement), not a sum, because one person's audiences on two platforms
overlap. Every identifier the customer proved carries that record. A
customer who withdraws, deletes their account or whose figures age out is
simply absent from the next version, so the version's delta removes them and
each store stops tiering them at its next sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from sqlalchemy import Engine, and_, exists, func, insert, or_, select

from ..tiers import feed
from ..tiers.csvfile import Problems
from ..tiers.lists import TierRecord, read_rows
from .customers.collector import proved
from .db import process_lock
from .office import HeadOffice
from .schema import builds, consents, customer_identifiers, customers, linked_accounts

log = logging.getLogger("posplugin.hq.build")
FETCH = 20_000


def consented_customer():
    """A SQL condition on ``customers``: a consent in force covering tiering."""
    return exists(select(consents.c.id).where(and_(
        consents.c.customer_id == customers.c.id, consents.c.withdrawn_at.is_(None),
        consents.c.scopes.like("%tiering%"))))


def records(engine: Engine, fresh_since: float) -> Iterator[tuple[bytes, TierRecord]]:
    """``(identifier hash, record)`` for each proven identifier of each
    consented customer with fresh figures, in customer order."""
    query = (select(customers.c.id, linked_accounts.c.followers, linked_accounts.c.engagement_rate,
                    customer_identifiers.c.id_hash)
             .join(linked_accounts, linked_accounts.c.customer_id == customers.c.id)
             .join(customer_identifiers, customer_identifiers.c.customer_id == customers.c.id)
             .where(and_(customers.c.deleted_at.is_(None), consented_customer(), proved(),
                         linked_accounts.c.status != "unlinked", linked_accounts.c.followers.is_not(None),
                         linked_accounts.c.measured_at >= fresh_since))
             .order_by(customers.c.id))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=FETCH).execute(query)
        current, best, hashes = None, None, set()
        for customer_id, followers, rate, id_hash in result:
            if customer_id != current:
                if current is not None:
                    yield from _each(hashes, best)
                current, best, hashes = customer_id, None, set()
            reach = followers * (rate or 0.0)
            if best is None or reach > best[0]:
                best = (reach, followers, rate or 0.0)
            hashes.add(id_hash)
        if current is not None:
            yield from _each(hashes, best)


def withdrawn(engine: Engine) -> Iterator[bytes]:
    """The identifier hashes of customers without a consent to tiering (withdrawn,
    never given, or deleted): published as opted out, which wins over any other source."""
    query = (select(customer_identifiers.c.id_hash)
             .join(customers, customers.c.id == customer_identifiers.c.customer_id)
             .where(or_(customers.c.deleted_at.is_not(None), ~consented_customer())))
    with engine.connect() as conn:
        for (id_hash,) in conn.execution_options(stream_results=True, yield_per=FETCH).execute(query):
            yield bytes.fromhex(id_hash)


def _each(hashes: set[str], best) -> Iterator[tuple[bytes, TierRecord]]:
    record = TierRecord(int(best[1]), float(best[2]), ())
    for id_hash in sorted(hashes):
        yield bytes.fromhex(id_hash), record


def csv_records(stream, hasher) -> Iterator[tuple[bytes, TierRecord | None]]:
    """A tier CSV's rows as build records; a bad row refuses the whole build."""
    problems = Problems()
    for row in problems.good(read_rows(stream, hasher)):
        if not problems:
            yield row
    if problems:
        problems.refuse()


class Builder:
    """Builds versions from joined customers, on command or at most every
    ``build_interval_minutes`` when something changed."""

    def __init__(self, office: HeadOffice, *, max_age_days: float = 30, interval_minutes: float = 60):
        self.office = office
        self.engine = office.engine
        self.clock = office.clock
        self.max_age_s = max_age_days * 86400.0
        self.interval_s = interval_minutes * 60.0

    def build(self, trigger: str = "command", base: Iterable[tuple[bytes, TierRecord | None]] | None = None) -> dict:
        """Publish the next version; returns it with how many joined customers it holds.
        ``base`` (a chain's CSV list) goes in first: a joined customer's figures
        replace its row, and a customer without consent is opted out of it."""
        now = self.clock()
        counted = {"customers": 0, "last": None}

        def counting():
            yield from base or ()
            for key, record in records(self.engine, now - self.max_age_s):
                if record is not counted["last"]:
                    counted["customers"] += 1
                    counted["last"] = record
                yield key, record
            for key in withdrawn(self.engine):
                yield key, None

        result = self.office.publish_records(counting(), source="build")
        trigger = "csv" if base else trigger
        with self.engine.begin() as conn:
            conn.execute(insert(builds).values(at=now, version=result["version"], customers=counted["customers"],
                                               rows=result["rows"], trigger=trigger))
        log.info("built version %s: %s customers, %s rows", result["version"], counted["customers"], result["rows"])
        return {**result, "customers": counted["customers"]}

    def last(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(builds).order_by(builds.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    def changed_since(self, since: float) -> bool:
        """Whether any consent, account or figure changed after ``since`` (or figures aged out)."""
        with self.engine.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(consents).where(or_(
                consents.c.given_at > since, consents.c.withdrawn_at > since))).scalar_one()
                or conn.execute(select(func.count()).select_from(linked_accounts).where(or_(
                    linked_accounts.c.measured_at > since, linked_accounts.c.linked_at > since,
                    linked_accounts.c.last_error_at > since))).scalar_one()
                or conn.execute(select(func.count()).select_from(customers).where(
                    customers.c.deleted_at > since)).scalar_one())

    def build_if_due(self) -> dict | None:
        """Build when the interval has passed and something changed (or daily, so
        figures age out) — only while the current version is a plain build (or there
        is none yet and someone consented): a version from a CSV import or built on
        a CSV is never replaced behind the chain's back. Decided and built under a
        lock across head office's processes, so several workers build once."""
        with process_lock(self.engine, "auto-build", self.office.data_dir):
            return self._build_if_due()

    def _build_if_due(self) -> dict | None:
        last = self.last()
        latest = self.office.latest()
        now = self.clock()
        if latest is None:
            if not self._anyone_consented():
                return None
        elif last is None or last["version"] != latest["version"] or last["trigger"] == "csv":
            # A version from a CSV is not replaced behind the chain's back, but
            # an objection reaches the stores within the interval all the same.
            if now - latest["created_at"] < self.interval_s or not self._withdrawn_since(latest["created_at"]):
                return None
            return self.publish_withdrawals()
        if last and now - last["at"] < self.interval_s:
            return None
        if last and not self.changed_since(last["at"]) and now - last["at"] < 86400.0:
            return None
        return self.build("auto")

    def publish_withdrawals(self) -> dict:
        """The next version: the current one with every customer who withdrew
        or was deleted taken out, nothing else changed (a version from a CSV
        stays the chain's list, less those who objected)."""
        latest = self.office.latest()
        snapshot = self.office.feed_dir / latest["snapshot"]

        def kept() -> Iterator[tuple[bytes, TierRecord | None]]:
            with open(snapshot, encoding="utf-8", newline="\n") as lines:
                for line in lines:
                    key, followers, rate, niches = feed.parse_snapshot_line(line)
                    yield key, TierRecord(followers, rate, niches)
            for key in withdrawn(self.engine):
                yield key, None

        now = self.clock()
        result = self.office.publish_records(kept(), source="build")
        with self.engine.begin() as conn:
            conn.execute(insert(builds).values(at=now, version=result["version"], customers=0,
                                               rows=result["rows"], trigger="csv"))
        log.info("version %s: withdrawals taken out of version %s (%s rows)", result["version"],
                 latest["version"], result["rows"])
        return {**result, "customers": 0}

    def _withdrawn_since(self, since: float) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(consents).where(
                consents.c.withdrawn_at > since)).scalar_one()
                or conn.execute(select(func.count()).select_from(customers).where(
                    customers.c.deleted_at > since)).scalar_one())

    def _anyone_consented(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(consents)).scalar_one() > 0
