"""The store service's settings: live streams, retention, queues and their
baselines, prompt timings, rate limits, head office's feed, the pass, and
browser POS origins."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..tiers.policy import VERIFY_LEVELS
from .common import CommonSettings, at_least, setting


@dataclass(frozen=True)
class StoreSettings(CommonSettings):
    max_streams: int = setting(120, "live streams (tablets, till cards) open at once")
    max_streams_per_token: int = setting(10, "live streams one token may hold open at once")
    retention_days: int = setting(30, "days visits and prompts are kept before they are purged")
    prompt_dedupe_minutes: int = setting(30, "the same customer at the same lane within this gets the same prompt")
    queue_default_normal: float = setting(3.0, "a lane's normal length while its history is thin")
    baseline_weeks: int = setting(8, "weeks of history a lane's normal is learned from")
    baseline_min_samples: int = setting(12, "readings an hour needs before its own normal is trusted")
    long_factor: float = setting(1.5, "a queue is long at long_factor × normal (and normal + long_margin)")
    long_margin: float = setting(2.0, "a queue is long at normal + long_margin (and long_factor × normal)")
    pain_calm_s: int = setting(300, "seconds a lane stays at or under normal before its pain prompt closes")
    service_time_s: float = setting(90.0, "service time per customer until served events teach a better one")
    target_wait_s: float = setting(180.0, "the wait the open-lanes recommendation aims under")
    history_after_s: int = setting(300, "readings older than this are history: baseline only, no prompt")
    waiting_max_s: int = setting(3600, "customers identified in a queue stop counting as waiting after this")
    prompt_expire_minutes: int = setting(15, "untaken service prompts expire after this")
    service_expire_minutes: int = setting(10, "service prompts, taken or not, expire this long after the "
                                          "customer's last identify at that lane: they have left the till "
                                          "(a sale reported done closes them at once)")
    escalate_after_s: int = setting(120, "untaken urgent prompts escalate after this")
    amplify_expire_minutes: int = setting(30, "untaken after-sale (amplify) prompts expire after this")
    tiers_max_loss: float = setting(0.5, "tiers import refuses a new list with no rows, or one that lost more "
                                    "than this share (0-1) of the current list's rows, unless --allow-smaller")
    rate_limit_per_s: float = setting(200.0, "requests per second per token; 0 turns rate limiting off")
    rate_limit_burst: int = setting(400, "requests a token may send at once above its rate")
    max_connections_per_address: int = setting(64, "connections one network address may hold open at once; "
                                               "0 for no limit (behind a proxy every client is its address)")
    hq_url: str = setting("", "head office's address; empty means no head office")
    hq_token: str = setting("", "this store's head office token (posplugin hq store add)")
    hq_public_key: str = setting("", "the key lists are verified with (posplugin hq public-key)")
    sync_interval_s: int = setting(300, "seconds between pulls from head office")
    heard_poll_s: int = setting(15, "seconds between asks to head office for posts heard about this store "
                                "(conditional, so cheap when nothing is new)")
    verify_level: str = setting("none", "service from which a customer must show their pass (none, priority "
                                "or murdoch); identified otherwise, they get the level below")
    webhook_url: str = setting("", "where the webhook hook forwards urgent prompts")
    # Web pages on other origins (a browser POS such as Odoo's) calling /api/v1/*.
    cors_origins: str = setting("", "origins allowed to call /api/v1/* from a browser (comma-separated, or *)")

    def problems(self) -> list[str]:
        return (super().problems() + _queue_problems(self) + _timing_problems(self)
                + _limit_problems(self) + cors_problems(self.cors_origins)
                + at_least(self, ("sync_interval_s",), 5, " seconds")
                + at_least(self, ("heard_poll_s",), 1, " second")
                + ([] if self.verify_level in VERIFY_LEVELS else
                   [f"verify_level {self.verify_level!r} is not a level; use {', '.join(VERIFY_LEVELS)}"]))


def _queue_problems(s: StoreSettings) -> list[str]:
    problems = at_least(s, ("queue_default_normal", "long_margin"), 0)
    problems += at_least(s, ("baseline_weeks", "baseline_min_samples", "long_factor"), 1)
    if s.service_time_s <= 0 or s.target_wait_s <= 0:
        problems.append("service_time_s and target_wait_s must be positive (seconds)")
    return problems


def _timing_problems(s: StoreSettings) -> list[str]:
    return at_least(s, ("retention_days", "service_expire_minutes"), 1) + at_least(
        s, ("prompt_dedupe_minutes", "pain_calm_s", "history_after_s", "waiting_max_s", "prompt_expire_minutes",
            "escalate_after_s", "amplify_expire_minutes"), 0) + (
        [] if s.service_expire_minutes <= 24 * 60 else
        ["service_expire_minutes must be at most 1440 (a day): a customer does not stay at a till longer"])


def _limit_problems(s: StoreSettings) -> list[str]:
    problems = [] if 0 <= s.tiers_max_loss <= 1 else [
        f"tiers_max_loss must be a share from 0 to 1 (0.5: refuse a list that lost half its rows), "
        f"not {s.tiers_max_loss:g}"]
    if s.rate_limit_per_s < 0 or s.rate_limit_burst < 1:
        problems.append("rate_limit_per_s must be ≥ 0 (0 turns it off) and rate_limit_burst ≥ 1")
    return problems + at_least(s, ("max_connections_per_address",), 0)


def cors_origins(text: str) -> tuple[str, ...]:
    """The origins of a ``cors_origins`` setting, normalised (lower case, no
    trailing slash); ``("*",)`` allows any origin."""
    return tuple(o.strip().rstrip("/").lower() for o in text.split(",") if o.strip())


def cors_problems(text: str) -> list[str]:
    """A problem for each entry of a ``cors_origins`` setting that is no origin."""
    problems = []
    for origin in cors_origins(text):
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query \
                or parts.fragment or "@" in parts.netloc:
            problems.append(f"cors_origins: {origin!r} is not an origin; write scheme://host[:port] "
                            "(e.g. https://shop.odoo.com), comma-separated, or * for any")
    return problems
