"""A few made-up customers joining the demo's head office the way real ones
do: /join with a phone number, the code from the console sender, consent,
and a linked account on a demo platform (the demo cannot reach Instagram);
then head office measures them and builds a version on top of the demo's
tier list."""

from __future__ import annotations

import logging
import random
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import requests

from ..hq.build import Builder, csv_records
from ..hq.customers import consent
from ..hq.customers.senders import ConsoleSender, mask
from ..hq.platforms.oauth import Measurement, Platform, Token
from ..hq.web.join import customer_side as side_of
from ..tiers.csvfile import open_csv
from .data import write_tier_csv

log = logging.getLogger("posplugin.demo")
PHONES = ("+47 412 00 101", "+47 412 00 102", "+47 412 00 103")


class DemoPlatform(Platform):
    """A stand-in Instagram for the demo: it grants at once and reports made-up figures."""

    name = "instagram"

    def __init__(self, seed: int = 42):
        super().__init__("demo-app", "demo-secret")
        self.random = random.Random(seed)

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        # Straight back to head office's callback, as if the customer had said yes.
        return redirect_uri + "?" + urlencode({"code": "demo-" + state[:8], "state": state})

    def exchange(self, redirect_uri: str, code: str, code_verifier: str) -> Token:
        return Token("demo-token-" + code, expires_at=self.clock() + 60 * 86400, account_id=code)

    def refresh(self, token: Token) -> Token:
        return token

    def measure(self, token: Token) -> Measurement:
        followers = self.random.choice((1_800, 4_200, 26_000))
        per_post = int(followers * self.random.choice((0.03, 0.062, 0.011)))
        return Measurement(followers, [(per_post - per_post // 20, per_post // 20)] * 12, handle="demo.joiner")


class DemoCodes:
    """The demo's sender of one-time codes: it keeps each code for the demo's
    own customers to type in, and tells it on the console (``tell``, set once
    the demo's narrator exists), so a visitor can join on /join themselves.
    Only a masked identifier is shown, as the console sender logs it."""

    def __init__(self):
        self.codes: dict[str, str] = {}
        self.console = ConsoleSender()
        self.tell = None

    def __call__(self, channel: str, to: str, code: str, language: str) -> bool:
        self.codes[to] = code
        if self.tell is not None:
            self.tell("join_code", code=code, to=mask(channel, to))
            return True
        return self.console.send_code(channel, to, code, language)


def customer_side(seed: int = 42) -> dict:
    """What the demo's head office app is built with (``create_hq_app(**...)``)."""
    return {"send": DemoCodes(), "platforms": {"instagram": DemoPlatform(seed)}}


def demo_codes(hq_server) -> DemoCodes:
    """The running demo head office's code sender."""
    return side_of(hq_server.app).customers.send


def join_customers(hq_server, base_rows, hasher, tell, phones=PHONES) -> dict:
    """Each of ``phones`` joins head office over HTTP, consents and links the
    demo platform; head office measures them and builds on the demo's list.
    ``tell`` narrates (see :class:`~posplugin.demo.narrator.Narrator`)."""
    hq_url, side = hq_server.url, side_of(hq_server.app)
    codes = side.customers.send
    quiet, codes.tell = codes.tell, None  # the demo's own joiners' codes are no news
    for phone in phones:
        session = requests.Session()
        identifier = {"type": "phone", "value": phone}
        session.post(f"{hq_url}/hq/v1/join/code", json={"identifier": identifier}, timeout=10).raise_for_status()
        code = codes.codes["+" + "".join(c for c in phone if c.isdigit())]
        signed_in = session.post(f"{hq_url}/hq/v1/join/verify", json={"identifier": identifier, "code": code},
                                 timeout=10)
        signed_in.raise_for_status()
        # As /join's page does: every change echoes the session's CSRF token.
        session.headers["X-CSRF-Token"] = signed_in.json()["csrf"]
        session.post(f"{hq_url}/hq/v1/join/consent", json={"version": consent.VERSION, "scopes": ["tiering"]},
                     timeout=10).raise_for_status()
        start = session.post(f"{hq_url}/hq/v1/join/accounts/instagram/link", timeout=10).json()
        back = session.get(start["authorize_url"], allow_redirects=False, timeout=10)
        assert "#linked=" in back.headers["Location"], back.headers["Location"]
        tell("join", who=mask("sms", phone))
    codes.tell = quiet
    side.collector.run()
    builder: Builder = side.builder
    with tempfile.TemporaryDirectory(prefix="posplugin-demo-list-") as tmp:
        # The made-up list passes through a temporary file only, as in data.publish.
        write_tier_csv(Path(tmp) / "demo-tiers.csv", base_rows)
        with open_csv(Path(tmp) / "demo-tiers.csv") as stream:
            built = builder.build(base=csv_records(stream, hasher))
    tell("join_built", version=built["version"], customers=built["customers"])
    return built

