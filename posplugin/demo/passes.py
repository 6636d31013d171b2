"""The demo's customer with a pass: now and then the banner customer shows the
QR code from their page at a till, which scans it (identify with type
``pass``, over HTTP) and gets a verified answer; once, someone shows a
screenshot of an old pass, which the store refuses."""

from __future__ import annotations

import random
import sys

import requests

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
            _scan(http, demo.url, lane, screenshot, customer.name, f"a screenshot of {customer.name}'s pass",
                  out)
            screenshot = None
        _scan(http, demo.url, lane, issuer.issue(hashed)["pass"], customer.name,
              f"{customer.name} shows their pass", out)


def _scan(http: requests.Session, url: str, lane: str, text: str, name: str, who: str, out) -> None:
    body = {"lane": lane, "identifier": {"type": "pass", "value": text}, "display_name": name}
    try:
        r = http.post(f"{url}/api/v1/identify", json=body, timeout=5)
    except requests.RequestException as exc:
        print(f"pass: posplugin unreachable ({exc.__class__.__name__})", file=out, flush=True)
        return
    if r.status_code == 200:
        answer = r.json()
        verified = "verified" if answer["verified"] else "not verified"
        print(f"pass: lane {lane}: {who} → {verified}, {answer['service_level']}"
              + (f", PROMPT #{answer['prompt']['id']}" if answer.get("prompt") else ""), file=out, flush=True)
    else:
        error = r.json()["error"]
        print(f"pass: lane {lane}: {who} → refused ({r.status_code} {error['code']}: {error['message']})",
              file=out, flush=True)


def pass_line(demo: DemoStore) -> list[str]:
    """Banner lines: how to scan the example customer's pass by hand."""
    text = PassIssuer(demo.office.key, demo.office.clock).issue(
        demo.office.hasher(demo.example.id_type, demo.example.value))["pass"]
    return ["  a customer's pass (good for 5 minutes; the till sends what it scans):",
            f"    curl -s -X POST {demo.url}/api/v1/identify -H 'Authorization: Bearer {demo.tokens['till']}' \\",
            "      -H 'Content-Type: application/json' \\",
            f"      -d '{{\"lane\": \"2\", \"identifier\": {{\"type\": \"pass\", \"value\": \"{text}\"}}}}'"]
