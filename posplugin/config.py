"""Settings: defaults, then ``posplugin.ini`` (section ``[posplugin]``), then
``POSPLUGIN_<NAME>`` environment variables, which win.

Everything is validated at once so a store manager sees every problem in one go,
each with what to fix.
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import phonenumbers

from .errors import ConfigError
from .texts import LANGUAGES
from .tiers.policy import VERIFY_LEVELS

INI_NAME = "posplugin.ini"
SECTION = "posplugin"
ENV_PREFIX = "POSPLUGIN_"


def setting(default, help: str):
    """Declare a setting with its default and a one-line help (shown by ``posplugin config``)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """All of posplugin's settings. Build with :func:`load`, or directly in tests."""

    data_dir: Path = Path("data")
    id_key: str = setting("", "the chain's identifier key (HMAC); never stored in the database")
    default_region: str = setting("", "phone region for numbers without a country code (NO, GB, US …)")
    timezone: str = setting("", "IANA time zone of the store (Europe/Oslo); empty means the machine's")
    language: str = setting("en", "language of prompts, pages and the console: en or nb")
    host: str = setting("127.0.0.1", "address serve listens on")
    port: int = setting(8765, "port serve listens on")
    threads: int = setting(24, "worker threads for ordinary requests")
    max_streams: int = setting(120, "live streams (tablets, till cards) open at once")
    max_streams_per_token: int = setting(10, "live streams one token may hold open at once")
    retention_days: int = setting(30, "days visits and prompts are kept before they are purged")
    prompt_dedupe_minutes: int = setting(30, "the same customer at the same lane within this gets the same prompt")
    tier_nano: int = setting(1_000, "followers from which a customer is nano")
    tier_micro: int = setting(10_000, "followers from which a customer is micro")
    tier_macro: int = setting(100_000, "followers from which a customer is macro")
    tier_mega: int = setting(1_000_000, "followers from which a customer is mega")
    level_priority: int = setting(50, "engaged reach from which service is priority")
    level_murdoch: int = setting(200, "engaged reach from which service is Murdoch-level")
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
    escalate_after_s: int = setting(120, "untaken urgent prompts escalate after this")
    amplify_expire_minutes: int = setting(30, "untaken after-sale (amplify) prompts expire after this")
    rate_limit_per_s: float = setting(200.0, "requests per second per token; 0 turns rate limiting off")
    rate_limit_burst: int = setting(400, "requests a token may send at once above its rate")
    hq_url: str = setting("", "head office's address; empty means no head office")
    hq_token: str = setting("", "this store's head office token (posplugin hq store add)")
    hq_public_key: str = setting("", "the key lists are verified with (posplugin hq public-key)")
    sync_interval_s: int = setting(300, "seconds between pulls from head office")
    verify_level: str = setting("none", "service from which a customer must show their pass (none, priority "
                                "or murdoch); identified otherwise, they get the level below")
    invite_delay_hours: float = setting(24.0, "head office: hours after a sale before the invitation to share "
                                        "or review reaches the customer's page")
    invite_reward: str = setting("none", "head office: what the chain gives for a post (none, sample, discount, "
                                 "event); any reward puts the ad disclosure on the invitation")
    hq_database_url: str = setting("", "head office's database (postgresql://user:pw@host/db); empty means hq.db "
                                   "in its data folder")
    feed_store: str = setting("", "where head office publishes feed bodies: a folder, or s3://bucket/prefix; "
                              "empty means feed/ in its data folder")
    feed_base_url: str = setting("", "where stores download feed bodies (a static host, CDN or bucket URL); "
                                 "empty means head office itself")
    hooks_dir: str = setting("", "a folder of .py hook files to load as plugins")
    plugins: str = setting("", "bundled hooks to load, by name (e.g. one_in_front, webhook)")
    webhook_url: str = setting("", "where the webhook hook forwards urgent prompts")
    # Web pages on other origins (a browser POS such as Odoo's) calling /api/v1/*.
    cors_origins: str = setting("", "origins allowed to call /api/v1/* from a browser (comma-separated, or *)")
    # Head office: the holdout experiment (posplugin hq experiment start/stop does the same).
    experiment: str = setting("", "head office: name of the holdout experiment to start (a new name starts a new one)")
    holdout_share: float = setting(0.0, "head office: share of customers held out of service prompts, 0 to 0.5")
    chain_handles: str = setting("", "head office: the chain's handles and hashtags a post must mention to count")
    # Head office: the customer's side (posplugin.hq.customers, platforms, metrics, build).
    public_url: str = setting("", "head office's public address customers reach (the /join QR code points here)")
    smtp_url: str = setting("", "email for join codes: smtp://user:password@host:587?from=addr&starttls=1")
    code_sender: str = setting("", "console: log join codes with a masked identifier instead (demo, tests)")
    metrics_refresh_hours: int = setting(168, "hours between refreshes of each linked account's metrics")
    metrics_max_age_days: int = setting(30, "days after which metrics that cannot be refreshed age out")
    build_interval_minutes: int = setting(60, "at most this often head office builds a version automatically")
    instagram_client_id: str = setting("", "the chain's own Meta app id (Instagram professional accounts)")
    instagram_client_secret: str = setting("", "the chain's own Meta app secret")
    tiktok_client_id: str = setting("", "the chain's TikTok Login Kit client key")
    tiktok_client_secret: str = setting("", "the chain's TikTok Login Kit client secret")
    youtube_client_id: str = setting("", "the chain's Google OAuth client id (youtube.readonly)")
    youtube_client_secret: str = setting("", "the chain's Google OAuth client secret")
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "posplugin.db"

    def tz(self) -> zoneinfo.ZoneInfo | None:
        """The store's time zone, or None for the machine's local time."""
        return zoneinfo.ZoneInfo(self.timezone) if self.timezone else None

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("data_dir", "extra")}

_SECRET = {"id_key", "hq_token", "hq_database_url", "smtp_url", "instagram_client_secret",
           "tiktok_client_secret", "youtube_client_secret"}


def load(data_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
         **overrides) -> Settings:
    """Read settings for ``data_dir`` (or ``POSPLUGIN_DATA``, or ``./data``).

    ``overrides`` (e.g. from command-line flags) win over everything; ``None``
    values are ignored. Raises :class:`ConfigError` listing every problem.
    """
    environ = os.environ if environ is None else environ
    data = Path(data_dir or environ.get(ENV_PREFIX + "DATA") or "data")
    raw: dict[str, tuple[str, str]] = {}  # name -> (value, where it came from)
    extra: dict[str, str] = {}
    typo_problems: list[str] = []
    ini = data / INI_NAME
    if ini.exists():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(ini, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError([f"{ini}: cannot be read ({exc.__class__.__name__}); fix its syntax"])
        if parser.has_section(SECTION):
            for name, value in parser.items(SECTION):
                if name in _FIELDS:
                    raw[name] = (value, f"{ini} [{SECTION}] {name}")
                else:
                    extra[name] = value
                    typo_problems += _typo(name, f"{ini} [{SECTION}]")
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "DATA":
            name = key[len(ENV_PREFIX):].lower()
            if name in _FIELDS:
                raw[name] = (value, key)
            else:
                extra[name] = value
                typo_problems += _typo(name, key)
    for name, value in overrides.items():
        if value is not None:
            raw[name] = (str(value), f"--{name.replace('_', '-')}")

    values, problems = {}, typo_problems
    for name, (text, where) in raw.items():
        try:
            values[name] = _convert(_FIELDS[name], text.strip())
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    settings = Settings(data_dir=data, extra=extra, **values)
    problems += validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _typo(name: str, where: str) -> list[str]:
    """A key that is not a setting but nearly is one is a mistake, not a plugin's
    setting (plugins' keys start with the plugin's name, e.g. ``qminder_secret``)."""
    close = difflib.get_close_matches(name, _FIELDS, n=1, cutoff=0.8)
    if close:
        return [f"{where}: unknown setting {name!r} — did you mean {close[0]!r}?"]
    return []


def explain() -> list[tuple[str, object, str]]:
    """Every setting as ``(name, default, help)``, in declaration order."""
    return [(f.name, f.default, f.metadata["help"]) for f in _FIELDS.values()]


def _convert(f: dataclasses.Field, text: str):
    if f.type in ("int", int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    if f.type in ("float", float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    return text


def validate(s: Settings) -> list[str]:
    """Return a list of problems with ``s``, each saying what to fix."""
    problems = []
    if s.default_region and s.default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(f"default_region {s.default_region!r} is not a phone region; "
                        "use a two-letter country code such as NO, GB or US")
    if s.timezone:
        try:
            zoneinfo.ZoneInfo(s.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone {s.timezone!r} is not an IANA time zone; "
                            "use a name such as Europe/Oslo")
    if not 0 < s.port < 65536:
        problems.append(f"port {s.port} is out of range; use 1-65535")
    if s.threads < 1:
        problems.append("threads must be at least 1")
    if s.retention_days < 1:
        problems.append("retention_days must be at least 1")
    if s.prompt_dedupe_minutes < 0:
        problems.append("prompt_dedupe_minutes cannot be negative")
    if not (0 < s.tier_nano < s.tier_micro < s.tier_macro < s.tier_mega):
        problems.append("tier thresholds must rise: 0 < tier_nano < tier_micro < tier_macro < tier_mega")
    if not (0 < s.level_priority < s.level_murdoch):
        problems.append("service thresholds must rise: 0 < level_priority < level_murdoch")
    if s.rate_limit_per_s < 0 or s.rate_limit_burst < 1:
        problems.append("rate_limit_per_s must be ≥ 0 (0 turns it off) and rate_limit_burst ≥ 1")
    if s.queue_default_normal < 0:
        problems.append("queue_default_normal cannot be negative")
    if s.baseline_weeks < 1 or s.baseline_min_samples < 1:
        problems.append("baseline_weeks and baseline_min_samples must be at least 1")
    if s.long_factor < 1 or s.long_margin < 0:
        problems.append("long_factor must be at least 1 and long_margin at least 0")
    if s.service_time_s <= 0 or s.target_wait_s <= 0:
        problems.append("service_time_s and target_wait_s must be positive (seconds)")
    if min(s.pain_calm_s, s.history_after_s, s.waiting_max_s, s.prompt_expire_minutes,
           s.escalate_after_s, s.amplify_expire_minutes) < 0:
        problems.append("queue and prompt timings cannot be negative")
    if s.hq_database_url and not s.hq_database_url.startswith(("postgresql://", "postgresql+psycopg://")):
        problems.append("hq_database_url must be a PostgreSQL URL (postgresql://user:password@host:5432/db), "
                        "or empty for hq.db in the data folder")
    if s.feed_store.startswith("s3://") and not s.feed_store[5:].split("/")[0]:
        problems.append(f"feed_store {s.feed_store!r} names no bucket: write s3://bucket/prefix")
    if s.feed_base_url and not s.feed_base_url.startswith(("http://", "https://")):
        problems.append(f"feed_base_url {s.feed_base_url!r} must be an http:// or https:// URL "
                        "(the folder or bucket the bodies are served from)")
    if s.sync_interval_s < 5:
        problems.append("sync_interval_s must be at least 5 seconds")
    if not 0 <= s.holdout_share <= 0.5:
        problems.append(f"holdout_share {s.holdout_share} is out of range; use 0 (no experiment) to 0.5")
    if s.experiment and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", s.experiment):
        problems.append("experiment must be a name of 1 to 100 letters, digits, '.', '_' or '-'")
    problems += cors_problems(s.cors_origins)
    if s.invite_delay_hours < 0 or s.invite_reward not in ("none", "sample", "discount", "event"):
        problems.append("invite_delay_hours cannot be negative; invite_reward is none, sample, discount or event")
    if s.verify_level not in VERIFY_LEVELS:
        problems.append(f"verify_level {s.verify_level!r} is not a level; use {', '.join(VERIFY_LEVELS)}")
    problems += customer_side_problems(s)
    if s.language not in LANGUAGES:
        problems.append(f"language {s.language!r} is not available; use {' or '.join(LANGUAGES)}")
    return problems


def customer_side_problems(s: Settings) -> list[str]:
    """Problems with head office's customer-side settings."""
    problems = []
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        problems.append(f"public_url {s.public_url!r} must start with https:// (or http:// for a test)")
    if s.smtp_url and not s.smtp_url.startswith(("smtp://", "smtps://")):
        problems.append("smtp_url must look like smtp://user:password@host:587?from=shop@example.com "
                        "(or smtps://)")
    if s.code_sender not in ("", "console"):
        problems.append(f"code_sender {s.code_sender!r} is not known; leave it empty or use console")
    if s.metrics_refresh_hours < 1 or s.metrics_max_age_days < 1 or s.build_interval_minutes < 1:
        problems.append("metrics_refresh_hours, metrics_max_age_days and build_interval_minutes must be at least 1")
    return problems


def cors_origins(text: str) -> tuple[str, ...]:
    """The origins of a ``cors_origins`` setting, normalised (lower case, no
    trailing slash); ``("*",)`` allows any origin."""
    return tuple(o.strip().rstrip("/").lower() for o in text.split(",") if o.strip())


def cors_problems(text: str) -> list[str]:
    from urllib.parse import urlsplit
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


def require_id_key(s: Settings) -> None:
    """Raise :class:`ConfigError` unless an identifier key is set, saying how to set it."""
    if not s.id_key:
        raise ConfigError([
            "no identifier key: set POSPLUGIN_ID_KEY in the environment, or id_key under "
            f"[{SECTION}] in {s.data_dir / INI_NAME}; use the chain's key so hashes match head office"])
    if len(s.id_key) < 16:
        raise ConfigError(["the identifier key is too short: use at least 16 characters "
                           "(for example the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)"])


def describe(s: Settings) -> dict:
    """Settings as a dict for display, with secrets masked."""
    out = {}
    for name in _FIELDS:
        value = getattr(s, name)
        out[name] = "***" if name in _SECRET and value else value
    out["data_dir"] = str(s.data_dir)
    return out
