"""The tier policy: who is an influencer, and what service they get.

One place for the rules in DESIGN.md "Default tier policy", shared by the store
(identify) and head office (scoring an import). Engaged reach, not raw
followers, drives the service level.
"""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("everyday", "nano", "micro", "macro", "mega")
SERVICE_LEVELS = ("standard", "priority", "murdoch")


@dataclass(frozen=True)
class Score:
    tier: str
    service_level: str
    engaged_reach: int


@dataclass(frozen=True)
class Policy:
    """Thresholds: follower counts for tier labels, engaged reach for service levels."""

    nano: int = 1_000
    micro: int = 10_000
    macro: int = 100_000
    mega: int = 1_000_000
    priority: int = 50
    murdoch: int = 200

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(nano=settings.tier_nano, micro=settings.tier_micro, macro=settings.tier_macro,
                   mega=settings.tier_mega, priority=settings.level_priority,
                   murdoch=settings.level_murdoch)

    def tier(self, followers: int) -> str:
        """The tier label for a follower count."""
        if followers >= self.mega:
            return "mega"
        if followers >= self.macro:
            return "macro"
        if followers >= self.micro:
            return "micro"
        if followers >= self.nano:
            return "nano"
        return "everyday"

    def service_level(self, engaged_reach: int) -> str:
        """The service level for an engaged reach."""
        if engaged_reach >= self.murdoch:
            return "murdoch"
        if engaged_reach >= self.priority:
            return "priority"
        return "standard"

    def score(self, followers: int, engagement_rate: float) -> Score:
        """Score one customer: ``engaged_reach = round(followers × engagement_rate)``."""
        reach = engaged_reach(followers, engagement_rate)
        return Score(self.tier(followers), self.service_level(reach), reach)


EVERYDAY = Score("everyday", "standard", 0)


def engaged_reach(followers: int, engagement_rate: float) -> int:
    """The people who engage with one post. Rounds half up, as people expect
    (Python's ``round`` would send 4,250 × 0.062 = 263.5 to 264 but 262.5 to 262)."""
    return int(followers * engagement_rate + 0.5)


VERIFY_LEVELS = ("none", "priority", "murdoch")


def rank(service_level: str) -> int:
    """standard 0, priority 1, murdoch 2: for comparing service levels."""
    return SERVICE_LEVELS.index(service_level)


def capped(service_level: str, verify_level: str, verified: bool) -> str:
    """The service level an identification gets: without a verified pass, at most
    the level below ``verify_level`` (``none`` caps nothing)."""
    if verified or verify_level == "none":
        return service_level
    return SERVICE_LEVELS[min(rank(service_level), rank(verify_level) - 1)]


def needs_prompt(service_level: str) -> bool:
    """Prompts are made for priority and murdoch service, not for standard."""
    return service_level in ("priority", "murdoch")
