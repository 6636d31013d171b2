"""The collector: refreshes each linked account's figures on a schedule.

Engagement is the median over the last 12 posts of (likes + comments) /
followers. The median, not the mean, because one post that went viral (or
one giveaway flooded with comments) would otherwise lift a customer's level
for months; the median says what a typical post of theirs does.

It keeps to each platform's limits: a platform that throttles (HTTP 429,
Meta's error codes, or Meta's ``X-Business-Use-Case-Usage`` near its
budget) is left alone until the time it gave; other failures back off
exponentially. Tokens are refreshed before they expire. An account whose
access was revoked keeps its last figures only until they are
``metrics_max_age_days`` old; then they are cleared.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass

from sqlalchemy import Engine, Integer, and_, exists, func, or_, select, update

from ..db import process_lock
from ..platforms.oauth import (
    AccessRevoked,
    AccountUnavailable,
    Measurement,
    Platform,
    PlatformError,
    PlatformRateLimited,
    Token,
    TokenExpired,
)
from ..schema import consents, customers, linked_accounts
from .vault import Vault, VaultError

log = logging.getLogger("posplugin.hq.metrics")

# Refresh a token this long before it expires (Instagram's last 60 days, TikTok's a day).
REFRESH_MARGIN_S = 3 * 3600.0
MAX_BACKOFF_S = 24 * 3600.0
BATCH = 200


def engagement_rate(followers: int, posts: list[tuple[int, int]]) -> float:
    """Median over the posts of (likes + comments) / followers; 0 without posts or followers."""
    if followers <= 0 or not posts:
        return 0.0
    return float(statistics.median((likes + comments) / followers for likes, comments in posts))


@dataclass
class RunResult:
    measured: int = 0
    failed: int = 0
    revoked: int = 0
    unavailable: int = 0
    throttled: int = 0
    aged_out: int = 0


def consented():
    """A SQL condition: the account's customer has a consent in force that covers tiering."""
    return exists(select(consents.c.id).where(and_(
        consents.c.customer_id == linked_accounts.c.customer_id, consents.c.withdrawn_at.is_(None),
        consents.c.scopes.like("%tiering%"))))


def proved():
    """A SQL condition: the account is its customer's, proved by their login
    (OAuth) or by the phrase in the handle's bio or a post; a handle anyone
    could type counts for nothing before that."""
    return or_(linked_accounts.c.source != "handle", linked_accounts.c.proved_at.is_not(None))


class Collector:
    """Refreshes linked accounts that are due, platform by platform."""

    def __init__(self, engine: Engine, vault: Vault, platforms: dict[str, Platform], *, clock,
                 refresh_hours: float = 168, max_age_days: float = 30, data_dir=None):
        self.engine = engine
        self.data_dir = data_dir  # where the cross-process lock lives on SQLite
        self.vault = vault
        self.platforms = platforms
        self.clock = clock
        self.refresh_s = refresh_hours * 3600.0
        self.max_age_s = max_age_days * 86400.0
        self.paused_until: dict[str, float] = {}
        # Listening's hand: on_posts(customer_id, platform, recent posts) after each measurement.
        self.on_posts = None

    def run(self, limit: int = 1000) -> RunResult:
        """Refresh up to ``limit`` due accounts, then age out stale figures. One
        process at a time (several ``hq serve`` workers do not ask twice)."""
        if self.data_dir is None:
            return self._run(limit)
        with process_lock(self.engine, "collector", self.data_dir):
            return self._run(limit)

    def _run(self, limit: int) -> RunResult:
        result = RunResult()
        now = self.clock()
        with self.engine.connect() as conn:
            due = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.status == "linked", linked_accounts.c.next_refresh_at <= now,
                # Accounts linked for listening only (Bluesky) are never due: they would fill the batch.
                linked_accounts.c.platform.in_([n for n, p in self.platforms.items() if p.measures]),
                consented(), proved())).order_by(linked_accounts.c.next_refresh_at).limit(limit)).all()
        for row in due:
            platform = self.platforms.get(row.platform)
            if platform is None or self.paused_until.get(row.platform, 0) > self.clock():
                continue
            if row.source == "handle" and not platform.can_lookup():
                continue  # left to provider exports (posplugin hq import --provider)
            self._refresh(row, result)
        result.aged_out = self.age_out()
        return result

    def refresh_one(self, account_id: int) -> RunResult:
        """Measure one linked account now, due or not (a customer's "refresh now")."""
        result = RunResult()
        with self.engine.connect() as conn:
            row = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.id == account_id, linked_accounts.c.status == "linked", proved()))).first()
        platform = row and self.platforms.get(row.platform)
        if platform and platform.measures and self.paused_until.get(row.platform, 0) <= self.clock() and (
                row.source != "handle" or platform.can_lookup()):
            self._refresh(row, result)
        return result

    def _refresh(self, row, result: RunResult) -> None:
        platform = self.platforms[row.platform]
        try:
            measured = self._measure(platform, row)
        except PlatformRateLimited as exc:
            until = self.clock() + exc.retry_after_s
            self.paused_until[row.platform] = until
            self._save(row.id, next_refresh_at=until, last_error=exc.message, last_error_at=self.clock())
            result.throttled += 1
            log.warning("%s throttled us; pausing it for %.0f s", row.platform, exc.retry_after_s)
        except AccessRevoked as exc:
            # The token is dead: drop it; the last figures age out on their own.
            self._save(row.id, status="revoked", token=None, last_error=exc.message, last_error_at=self.clock())
            result.revoked += 1
        except AccountUnavailable as exc:
            self._save(row.id, status="linked", next_refresh_at=self.clock() + self.refresh_s,
                       last_error=exc.message, last_error_at=self.clock(), followers=None, engagement_rate=None,
                       posts=None, measured_at=None, failures=row.failures + 1)
            result.unavailable += 1
        except PlatformError as exc:
            backoff = min(MAX_BACKOFF_S, 300.0 * 2 ** row.failures)
            self._save(row.id, failures=row.failures + 1, next_refresh_at=self.clock() + backoff,
                       last_error=exc.message, last_error_at=self.clock())
            result.failed += 1
        else:
            self._save(row.id, followers=measured.followers,
                       engagement_rate=engagement_rate(measured.followers, measured.posts),
                       posts=len(measured.posts), measured_at=self.clock(), failures=0, last_error=None,
                       next_refresh_at=self.clock() + self.refresh_s,
                       **({"handle": measured.handle} if measured.handle and row.source == "oauth" else {}))
            result.measured += 1
            if self.on_posts is not None and measured.recent:
                try:
                    self.on_posts(row.customer_id, row.platform, measured.recent)
                except Exception:
                    log.exception("listening could not take a linked account's posts; the figures are kept")

    def _measure(self, platform: Platform, row) -> Measurement:
        if row.source == "handle":
            return platform.lookup(row.handle)
        try:
            token = Token.from_json(self.vault.open(row.token)) if row.token else None
        except VaultError:
            token = None
        if token is None:
            raise AccessRevoked("no usable token; link again")
        if platform.needs_refresh(token, REFRESH_MARGIN_S):
            token = self._refreshed(platform, row, token)
        try:
            return platform.measure(token)
        except TokenExpired:
            return platform.measure(self._refreshed(platform, row, token))

    def _refreshed(self, platform: Platform, row, token: Token) -> Token:
        fresh = platform.refresh(token)
        self._save(row.id, token=self.vault.seal(fresh.to_json()))
        return fresh

    def _save(self, account_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(linked_accounts).where(linked_accounts.c.id == account_id).values(**values))

    def age_out(self) -> int:
        """Clear figures older than ``metrics_max_age_days``; returns how many accounts."""
        with self.engine.begin() as conn:
            return conn.execute(update(linked_accounts).where(and_(
                linked_accounts.c.measured_at.is_not(None),
                linked_accounts.c.measured_at < self.clock() - self.max_age_s)).values(
                followers=None, engagement_rate=None, posts=None, measured_at=None)).rowcount

    def status(self) -> dict:
        """Progress and failures per platform, for /hq and ``posplugin hq metrics status``."""
        now = self.clock()
        out = {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(
                linked_accounts.c.platform, linked_accounts.c.status,
                func.count().label("accounts"),
                func.sum((linked_accounts.c.measured_at.is_not(None)).cast(Integer)).label("measured"),
                func.sum((linked_accounts.c.next_refresh_at <= now).cast(Integer)).label("due"),
                func.sum((linked_accounts.c.failures > 0).cast(Integer)).label("failing"),
                func.min(linked_accounts.c.measured_at).label("oldest"),
            ).where(linked_accounts.c.status != "unlinked").group_by(
                linked_accounts.c.platform, linked_accounts.c.status)).all()
            errors = conn.execute(select(linked_accounts.c.platform, linked_accounts.c.last_error,
                                         linked_accounts.c.last_error_at)
                                  .where(linked_accounts.c.last_error.is_not(None))
                                  .order_by(linked_accounts.c.last_error_at.desc()).limit(10)).all()
            joined = conn.execute(select(func.count()).select_from(customers)
                                  .where(customers.c.deleted_at.is_(None))).scalar_one()
        for r in rows:
            entry = out.setdefault(r.platform, {"linked": 0, "revoked": 0, "measured": 0, "due": 0, "failing": 0,
                                                "oldest_measurement_s": None,
                                                "paused_for_s": max(0.0, self.paused_until.get(r.platform, 0) - now)})
            entry["revoked" if r.status == "revoked" else "linked"] += r.accounts
            entry["measured"] += r.measured or 0
            if r.status == "linked":
                entry["due"] += r.due or 0
                entry["failing"] += r.failing or 0
            if r.oldest is not None:
                age = now - r.oldest
                entry["oldest_measurement_s"] = max(entry["oldest_measurement_s"] or 0, age)
        return {"customers": joined, "platforms": out,
                "recent_errors": [{"platform": e.platform, "error": e.last_error, "at": e.last_error_at}
                                  for e in errors]}

