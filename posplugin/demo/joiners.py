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
from ..hq.customers.senders import ConsoleSender
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
    """The console sender, keeping each code for the demo's customers to type in."""

    def __init__(self):
        self.codes: dict[str, str] = {}
        self.console = ConsoleSender()

    def __call__(self, channel: str, to: str, code: str, language: str) -> bool:
        self.codes[to] = code
        return self.console.send_code(channel, to, code, language)


def customer_side(seed: int = 42) -> dict:
    """What the demo's head office app is built with (``create_hq_app(**...)``)."""
    return {"send": DemoCodes(), "platforms": {"instagram": DemoPlatform(seed)}}


def join_customers(hq_server, base_rows, hasher, out, phones=PHONES) -> dict:
    """Each of ``phones`` joins head office over HTTP, consents and links the
    demo platform; head office measures them and builds on the demo's list."""
    hq_url, side = hq_server.url, side_of(hq_server.app)
    codes = side.customers.send
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
        print(f"join: {phone[:4]} ••• {phone[-2:]} joined on /join, consented and linked "
              "a demo Instagram account", file=out, flush=True)
    side.collector.run()
    builder: Builder = side.builder
    with tempfile.TemporaryDirectory(prefix="posplugin-demo-list-") as tmp:
        # The made-up list passes through a temporary file only, as in data.publish.
        write_tier_csv(Path(tmp) / "demo-tiers.csv", base_rows)
        with open_csv(Path(tmp) / "demo-tiers.csv") as stream:
            built = builder.build(base=csv_records(stream, hasher))
    print(f"join: head office measured them and built version {built['version']} "
          f"({built['customers']} joined customers on top of the demo list)", file=out, flush=True)
    return built

