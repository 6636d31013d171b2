"""The demo's customer with a pass: now and then the banner customer shows the
QR code from their page at a till, which scans it (identify with type
``pass``, over HTTP) and gets a verified answer; once, someone shows a
screenshot of an old pass, which the store refuses."""

from __future__ import annotations

import random
import sys

import requests

from .. import texts
from ..hq.customers.passes import PassIssuer
from ..tiers import passes
from .data import LANES
from .world import DemoStore


def simulate_pass(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Every few identifies, the banner customer scans a fresh pass at a till;
    the first time, an expired screenshot is tried first. Runs until ``demo.stop``."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {demo.tokens['till']}"
    customer = demo.example
    issuer = PassIssuer(demo.office.key, demo.office.clock)
    hashed = demo.office.hasher(customer.id_type, customer.value)
    screenshot = passes.issue(demo.office.key, hashed, now=demo.office.clock() - 600)
    while not demo.stop.wait(rng.uniform(pace_s * 3, pace_s * 6)):
        lane = rng.choice(LANES)
        if screenshot:
            _scan(demo, http, lane, screenshot, customer.name, screenshot=True)
            screenshot = None
        shown = issuer.issue(hashed)["pass"]
        _scan(demo, http, lane, shown, customer.name)
        # Served, they pay and go: the till reports the sale done, which closes their prompt.
        if not demo.stop.wait(rng.uniform(pace_s, pace_s * 2)):
            try:
                http.post(f"{demo.url}/api/v1/sales", timeout=5, json={
                    "lane": lane, "identifier": {"type": "pass", "value": shown}, "display_name": customer.name})
            except requests.RequestException as exc:
                demo.tell("till_down", error=exc.__class__.__name__)


def _scan(demo: DemoStore, http: requests.Session, lane: str, text: str, name: str, screenshot=False) -> None:
    body = {"lane": lane, "identifier": {"type": "pass", "value": text}, "display_name": name}
    try:
        r = http.post(f"{demo.url}/api/v1/identify", json=body, timeout=5)
    except requests.RequestException as exc:
        demo.tell("till_down", error=exc.__class__.__name__)
        return
    if r.status_code == 200:
        answer = r.json()
        on_card = demo.narrator.say("demo.on_card", id=answer["prompt"]["id"]) if answer.get("prompt") else ""
        demo.tell("pass_verified" if answer["verified"] else "pass_unverified", lane=lane, name=name,
                  level=demo.narrator.say(f"demo.level.{answer['service_level']}"), on_card=on_card)
    else:
        code = r.json()["error"]["code"]
        reason = f"demo.refusal.{code}"
        demo.tell("pass_refused", lane=lane, name=name, code=code,
                  reason=demo.narrator.say(reason) if reason in texts.catalogue(demo.narrator.language) else code,
                  what=demo.narrator.say("demo.screenshot" if screenshot else "demo.their_pass", name=name))


def pass_line(demo: DemoStore) -> list[str]:
    """Banner lines: how to scan the example customer's pass by hand."""
    text = PassIssuer(demo.office.key, demo.office.clock).issue(
        demo.office.hasher(demo.example.id_type, demo.example.value))["pass"]
    return ["  " + demo.narrator.say("demo.banner.pass"),
            f"    curl -s -X POST {demo.url}/api/v1/identify -H 'Authorization: Bearer {demo.tokens['till']}' \\",
            "      -H 'Content-Type: application/json' \\",
            f"      -d '{{\"lane\": \"2\", \"identifier\": {{\"type\": \"pass\", \"value\": \"{text}\"}}}}'"]
