"""The settings every posplugin service reads: where its data is, the chain's
identifier key, the store's region, time zone and language, where it
listens, plugins, and the tier policy that both the store and the
customer's page (/me) show."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import phonenumbers

from ..texts import LANGUAGES


def setting(default, help: str):
    """Declare a setting with its default and a one-line help (shown by ``posplugin config``)."""
    return field(default=default, metadata={"help": help})


def at_least(s, names: tuple[str, ...], low: float, unit: str = "") -> list[str]:
    """A problem for each of the settings ``names`` of ``s`` below ``low``."""
    return [f"{name} must be at least {low:g}{unit}" for name in names if getattr(s, name) < low]


@dataclass(frozen=True)
class CommonSettings:
    data_dir: Path = Path("data")
    id_key: str = setting("", "the chain's identifier key (HMAC); never stored in the database")
    default_region: str = setting("", "phone region for numbers without a country code (NO, GB, US …)")
    timezone: str = setting("", "IANA time zone of the store (Europe/Oslo); empty means the machine's")
    language: str = setting("en", "language of prompts, pages and the console: en or nb")
    host: str = setting("127.0.0.1", "address serve listens on")
    port: int = setting(8765, "port serve listens on")
    threads: int = setting(4, "worker threads for ordinary requests (streams and slow clients need none)")
    tier_nano: int = setting(1_000, "followers from which a customer is nano")
    tier_micro: int = setting(10_000, "followers from which a customer is micro")
    tier_macro: int = setting(100_000, "followers from which a customer is macro")
    tier_mega: int = setting(1_000_000, "followers from which a customer is mega")
    level_priority: int = setting(50, "engaged reach from which service is priority")
    level_murdoch: int = setting(200, "engaged reach from which service is Murdoch-level")
    hooks_dir: str = setting("", "a folder of .py hook files to load as plugins")
    plugins: str = setting("", "bundled hooks to load, by name (e.g. one_in_front, webhook)")
    # Keys that are no setting of posplugin's: plugins' own (qminder_secret, say).
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "posplugin.db"

    def tz(self) -> zoneinfo.ZoneInfo | None:
        """The store's time zone, or None for the machine's local time."""
        return zoneinfo.ZoneInfo(self.timezone) if self.timezone else None

    def problems(self) -> list[str]:
        """Every problem with these settings, each saying what to fix."""
        return (_place_problems(self) + _tier_problems(self) + at_least(self, ("threads",), 1)
                + ([] if 0 < self.port < 65536 else [f"port {self.port} is out of range; use 1-65535"]))


def _place_problems(s: CommonSettings) -> list[str]:
    problems = []
    if s.default_region and s.default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(f"default_region {s.default_region!r} is not a phone region; "
                        "use a two-letter country code such as NO, GB or US")
    if s.timezone and not _is_zone(s.timezone):
        problems.append(f"timezone {s.timezone!r} is not an IANA time zone; use a name such as Europe/Oslo")
    if s.language not in LANGUAGES:
        problems.append(f"language {s.language!r} is not available; use {' or '.join(LANGUAGES)}")
    return problems


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _tier_problems(s: CommonSettings) -> list[str]:
    problems = []
    if not (0 < s.tier_nano < s.tier_micro < s.tier_macro < s.tier_mega):
        problems.append("tier thresholds must rise: 0 < tier_nano < tier_micro < tier_macro < tier_mega")
    if not (0 < s.level_priority < s.level_murdoch):
        problems.append("service thresholds must rise: 0 < level_priority < level_murdoch")
    return problems
