"""Head office's settings: its database and where the feed is published, the
holdout experiment, the customer's side (public address, join codes,
platforms, metrics and builds) and after-sale invitations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .common import CommonSettings, at_least, setting

REWARDS = ("none", "sample", "discount", "event")


@dataclass(frozen=True)
class HeadOfficeSettings(CommonSettings):
    hq_database_url: str = setting("", "head office's database (postgresql://user:pw@host/db); empty means hq.db "
                                   "in its data folder")
    feed_store: str = setting("", "where head office publishes feed bodies: a folder, or s3://bucket/prefix; "
                              "empty means feed/ in its data folder")
    feed_base_url: str = setting("", "where stores download feed bodies (a static host, CDN or bucket URL); "
                                 "empty means head office itself")
    experiment: str = setting("", "head office: name of the holdout experiment to start (a new name starts a new one)")
    holdout_share: float = setting(0.0, "head office: share of customers held out of service prompts, 0 to 0.5")
    chain_handles: str = setting("", "head office: the chain's handles and hashtags a post must mention to count")
    invite_delay_hours: float = setting(24.0, "head office: hours after a sale before the invitation to share "
                                        "or review reaches the customer's page")
    invite_reward: str = setting("none", "head office: what the chain gives for a post (none, sample, discount, "
                                 "event); any reward puts the ad disclosure on the invitation")
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
    bluesky_client_name: str = setting("", "the name customers see when they link a Bluesky account (AT Protocol "
                                       "OAuth, for listening); set, /join offers Bluesky (needs an https "
                                       "public_url)")
    bluesky_plc_url: str = setting("https://plc.directory", "the PLC directory that resolves did:plc DIDs "
                                   "(a mirror, or a stand-in in tests)")
    bluesky_domain_url: str = setting("https://{domain}", "where a handle's or did:web's domain answers "
                                      "(/.well-known/atproto-did, /.well-known/did.json); {domain} is replaced")
    # Listening (posplugin.hq.listening): what customers post about a store.
    listen_sources: str = setting("", "listening: sources to run, comma-separated (instagram, bluesky, mastodon, "
                                  "linked); empty means none but POST /hq/v1/heard")
    instagram_webhook_verify_token: str = setting("", "listening: the Verify Token typed into Meta's webhook "
                                                  "settings (answered in the GET handshake)")
    instagram_account_id: str = setting("", "listening: the chain's Instagram professional account id (IG user id)")
    instagram_account_token: str = setting("", "listening: the chain's own access token, to read mentions and tags")
    instagram_graph_url: str = setting("https://graph.instagram.com", "listening: Meta's Graph API base URL "
                                       "(a proxy, or a stand-in in tests)")
    instagram_tags_minutes: int = setting(5, "listening: minutes between reads of the posts the chain is tagged in")
    bluesky_jetstream_url: str = setting("wss://jetstream2.us-east.bsky.network/subscribe",
                                         "listening: the Jetstream WebSocket to read Bluesky posts from")
    bluesky_chain_dids: str = setting("", "listening: the chain's Bluesky DIDs (did:plc:…), comma-separated; "
                                      "a post mentioning one is addressed to the chain")
    mastodon_url: str = setting("", "listening: the chain's Mastodon server (https://mastodon.social)")
    mastodon_token: str = setting("", "listening: the chain account's Mastodon access token (read scope)")
    heard_max_age_minutes: int = setting(120, "listening: posts older than this reach the inbox, not the floor; "
                                         "also how far back a consented customer's visit routes a post")
    heard_retention_days: int = setting(30, "listening: days a post's text is kept, then purged")
    listen_lexicon: str = setting("", "listening: a JSON file of extra classifier words per language "
                                  "(see docs/listening.md)")

    def problems(self) -> list[str]:
        return (super().problems() + _storage_problems(self) + _experiment_problems(self)
                + _customer_side_problems(self) + _listening_problems(self))


def _storage_problems(s: HeadOfficeSettings) -> list[str]:
    problems = []
    if s.hq_database_url and not s.hq_database_url.startswith(("postgresql://", "postgresql+psycopg://")):
        problems.append("hq_database_url must be a PostgreSQL URL (postgresql://user:password@host:5432/db), "
                        "or empty for hq.db in the data folder")
    if s.feed_store.startswith("s3://") and not s.feed_store[5:].split("/")[0]:
        problems.append(f"feed_store {s.feed_store!r} names no bucket: write s3://bucket/prefix")
    if s.feed_base_url and not s.feed_base_url.startswith(("http://", "https://")):
        problems.append(f"feed_base_url {s.feed_base_url!r} must be an http:// or https:// URL "
                        "(the folder or bucket the bodies are served from)")
    return problems


def _experiment_problems(s: HeadOfficeSettings) -> list[str]:
    problems = []
    if not 0 <= s.holdout_share <= 0.5:
        problems.append(f"holdout_share {s.holdout_share} is out of range; use 0 (no experiment) to 0.5")
    if s.experiment and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", s.experiment):
        problems.append("experiment must be a name of 1 to 100 letters, digits, '.', '_' or '-'")
    return problems


def _customer_side_problems(s: HeadOfficeSettings) -> list[str]:
    problems = at_least(s, ("metrics_refresh_hours", "metrics_max_age_days", "build_interval_minutes"), 1)
    problems += at_least(s, ("invite_delay_hours",), 0)
    if s.invite_reward not in REWARDS:
        problems.append(f"invite_reward {s.invite_reward!r} is not known; use {', '.join(REWARDS)}")
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        problems.append(f"public_url {s.public_url!r} must start with https:// (or http:// for a test)")
    if s.smtp_url and not s.smtp_url.startswith(("smtp://", "smtps://")):
        problems.append("smtp_url must look like smtp://user:password@host:587?from=shop@example.com "
                        "(or smtps://)")
    if s.bluesky_client_name and not s.public_url.startswith("https://"):
        problems.append("bluesky_client_name needs an https:// public_url: Bluesky fetches head office's client "
                        "metadata from it")
    if not s.bluesky_plc_url.startswith(("http://", "https://")):
        problems.append(f"bluesky_plc_url {s.bluesky_plc_url!r} must be an http:// or https:// URL")
    if not s.bluesky_domain_url.startswith(("http://", "https://")) or "{domain}" not in s.bluesky_domain_url:
        problems.append(f"bluesky_domain_url {s.bluesky_domain_url!r} must be an http(s):// URL with {{domain}} in it")
    if s.code_sender not in ("", "console"):
        problems.append(f"code_sender {s.code_sender!r} is not known; leave it empty or use console")
    return problems


LISTEN_SOURCES = ("instagram", "bluesky", "mastodon", "linked")


def listen_sources(text: str) -> tuple[str, ...]:
    """The ``listen_sources`` setting as names, lower case, in order, once each."""
    return tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))


def _listening_problems(s: HeadOfficeSettings) -> list[str]:
    problems = at_least(s, ("heard_max_age_minutes", "heard_retention_days", "instagram_tags_minutes"), 1)
    sources = listen_sources(s.listen_sources)
    for name in sources:
        if name not in LISTEN_SOURCES and ":" not in name:
            problems.append(f"listen_sources: {name!r} is not a source; use {', '.join(LISTEN_SOURCES)} "
                            "(or a plugin's source name as plugin:NAME)")
    if "instagram" in sources and not (s.instagram_account_id and s.instagram_account_token
                                       and s.instagram_client_secret):
        problems.append("listen_sources instagram needs instagram_account_id, instagram_account_token and "
                        "instagram_client_secret (the app secret that signs Meta's webhooks)")
    if "mastodon" in sources and not (s.mastodon_url and s.mastodon_token):
        problems.append("listen_sources mastodon needs mastodon_url and mastodon_token")
    for name in ("instagram_graph_url", "mastodon_url"):
        value = getattr(s, name)
        if value and not value.startswith(("http://", "https://")):
            problems.append(f"{name} {value!r} must be an http:// or https:// URL")
    if not s.bluesky_jetstream_url.startswith(("ws://", "wss://")):
        problems.append(f"bluesky_jetstream_url {s.bluesky_jetstream_url!r} must be a ws:// or wss:// URL")
    for did in filter(None, (d.strip() for d in s.bluesky_chain_dids.split(","))):
        if not did.startswith("did:"):
            problems.append(f"bluesky_chain_dids: {did!r} is not a DID (did:plc:… or did:web:…)")
    return problems
