"""Simulated traffic for ``posplugin demo``, all over real HTTP: a till
identifying customers, a people counter with rushes, a Qminder queue system
and a Square POS posting signed webhooks, and head office publishing lists
that the store syncs. Each simulator runs until ``demo.stop`` is set."""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import sys
from typing import TYPE_CHECKING

import requests

from ..store.sync import sync_once
from ..tiers.lists import parse_engagement
from ..tiers.policy import Policy
from ..webhooks import hmac_sha256_base64, hmac_sha256_hex
from .data import DEMO_ZONE, FIRST_NAMES, LANES, DemoCustomer, publish, usual_length

if TYPE_CHECKING:
    from .run import DemoStore


DEMO_SYNC_S = 10


# The vendor adapters the demo runs (bundled hooks), with made-up secrets: a
# simulated Qminder queue system and Square POS post signed webhooks to them.
QMINDER_URL = "https://store.example/hooks/qminder/tickets"


SQUARE_URL = "https://store.example/hooks/square/payments"


QMINDER_LINES = {"37338": "1", "37339": "2", "37340": "3", "37341": "4"}


def simulate_till(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Identify a customer at a random lane every few seconds; staff take and
    resolve some prompts. Runs until ``demo.stop`` is set."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {demo.tokens['till']}"
    staff = requests.Session()
    staff.headers["Authorization"] = f"Bearer {demo.tokens['staff']}"
    while not demo.stop.is_set():
        lane = rng.choice(LANES)
        if rng.random() < 0.6:
            customer = rng.choice(demo.customers)
        else:
            n = rng.randint(0, 10**7)
            customer = DemoCustomer("phone", f"+47 9{n:07d}", rng.choice(FIRST_NAMES))
        body = {"lane": lane, "identifier": {"type": customer.id_type, "value": customer.value},
                "display_name": customer.name}
        try:
            answer = http.post(f"{demo.url}/api/v1/identify", json=body, timeout=5).json()
        except requests.RequestException as exc:
            print(f"till: posplugin unreachable ({exc.__class__.__name__})", file=out, flush=True)
        else:
            line = (f"lane {lane}: {customer.name:<7} {answer['tier']:<8} "
                    f"engaged reach {answer['engaged_reach']:>6,} → {answer['service_level']}")
            if answer.get("prompt"):
                prompt = answer["prompt"]
                line += f"  PROMPT #{prompt['id']}: {prompt['title']}"
                if rng.random() < 0.7:
                    who = rng.choice(["Ana", "Ola", "Kari"])
                    staff.post(f"{demo.url}/api/v1/prompts/{prompt['id']}/ack", json={"by": who}, timeout=5)
                    staff.post(f"{demo.url}/api/v1/prompts/{prompt['id']}/resolve", json={"by": who},
                               timeout=5)
                    line += f" (taken and resolved by {who})"
            print(line, file=out, flush=True)
        demo.stop.wait(rng.uniform(pace_s * 0.5, pace_s * 1.5))


def simulate_queues(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Readings from a made-up people counter at every lane, around what is
    usual for the hour, with a rush at one lane now and then; some customers in
    the queue scan their loyalty card. Prints when a lane changes status and
    when pain prompts are raised or closed. Runs until ``demo.stop`` is set."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {demo.tokens['queue']}"
    staff = requests.Session()
    staff.headers["Authorization"] = f"Bearer {demo.tokens['staff']}"
    lengths = {lane: 1 for lane in LANES}
    status = {lane: "ok" for lane in LANES}
    prompt_of = {lane: None for lane in LANES}
    rush_lane, rush_left = None, 0
    while not demo.stop.is_set():
        local = dt.datetime.now(DEMO_ZONE)
        if rush_left <= 0 and rng.random() < 0.08:
            rush_lane, rush_left = rng.choice(LANES), rng.randint(6, 12)
            print(f"queue: a rush starts at lane {rush_lane}", file=out, flush=True)
        for lane in LANES:
            usual = usual_length(local.hour + local.minute / 60, local.weekday())
            target = usual + (8 if lane == rush_lane and rush_left > 0 else 0)
            lengths[lane] = max(0, round(lengths[lane] + (target - lengths[lane]) * 0.5
                                         + rng.gauss(0, 0.7)))
            try:
                answer = http.post(f"{demo.url}/api/v1/queue", timeout=5,
                                   json={"lane": lane, "length": lengths[lane]}).json()
            except requests.RequestException:
                continue
            if answer["status"] != status[lane]:
                print(f"queue: lane {lane} {answer['length']} waiting (normal {answer['normal']:g})"
                      f" → {answer['status'].upper()}, about {answer['wait_s']} s wait",
                      file=out, flush=True)
                status[lane] = answer["status"]
            prompt = answer.get("prompt")
            if prompt and prompt_of[lane] != prompt["id"]:
                print(f"queue: PAIN PROMPT #{prompt['id']} raised: {prompt['body']}", file=out, flush=True)
            if prompt is None and prompt_of[lane] is not None:
                print(f"queue: lane {lane} back to normal, pain prompt #{prompt_of[lane]} closed",
                      file=out, flush=True)
            prompt_of[lane] = prompt["id"] if prompt else None
            if lane == rush_lane and rush_left > 0 and rng.random() < 0.5:
                customer = rng.choice(demo.customers)
                http.post(f"{demo.url}/api/v1/identify", timeout=5, json={
                    "lane": lane, "stage": "queue", "identifier": {
                        "type": customer.id_type, "value": customer.value}})
        rush_left -= 1
        demo.stop.wait(rng.uniform(pace_s * 0.5, pace_s * 1.5))


def simulate_adapters(demo: DemoStore, customers, rng: random.Random, out=sys.stdout,
                      pace_s: float = 3.0) -> None:
    """A made-up Qminder queue system and Square POS posting signed webhooks
    (vendor field names, as in their documentation) to the bundled adapters:
    a ticket with a known customer's phone number joins a line (identified
    while queueing) and is called a little later; a completed Square payment
    of a known customer makes an "after the sale" floor prompt. Runs until
    ``demo.stop`` is set."""

    extra = demo.store.settings.extra
    policy = Policy()
    listed = [(c, row) for c, row in customers if row["consent"] == "yes"]
    phones = [c for c, _ in listed if c.id_type == "phone"]
    buyers = [c for c, row in listed if c.id_type == "email" and policy.score(
        int(row["followers"]), parse_engagement(str(row["engagement_rate"]))).service_level != "standard"]
    http = requests.Session()
    waiting: list[tuple[str, str, str]] = []  # (ticket id, line, lane)
    tickets = payments = 0

    def post(path: str, payload: dict, headers: dict) -> dict:
        body = json.dumps(payload).encode()
        return http.post(f"{demo.url}/hooks/{path}", data=body, timeout=5,
                         headers={"Content-Type": "application/json", **headers}).json()

    def qminder(kind: str, ticket_id: str, line: str, customer: DemoCustomer | None = None) -> dict:
        data = {"id": ticket_id, "status": "NEW" if kind == "ticket_created" else "CALLED",
                "source": "MANUAL", "line": int(line), "created": {"date": dt.datetime.now(
                    dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}
        if customer:
            # Qminder sends the number in international form, digits only.
            data.update(firstName=customer.name, phoneNumber=int("".join(filter(str.isdigit, customer.value))))
        payload = {"type": kind, "data": data}
        body = json.dumps(payload).encode()
        signature = hmac_sha256_hex(extra["qminder_secret"], extra["qminder_webhook_url"].encode() + body)
        return post("qminder/tickets", payload, {"X-Qminder-Signature": signature})

    while not demo.stop.wait(rng.uniform(pace_s * 0.5, pace_s * 1.5)):
        try:
            if waiting and (len(waiting) > 2 or rng.random() < 0.5):
                ticket_id, line, lane = waiting.pop(0)
                answer = qminder("ticket_called", ticket_id, line)
                print(f"qminder: ticket {ticket_id} called at lane {lane} → served"
                      f" ({answer['queue']['length']} still waiting)", file=out, flush=True)
            elif phones and (rng.random() < 0.6 or not buyers):
                tickets += 1
                ticket_id, line = f"{9_000_000 + tickets}", rng.choice(list(QMINDER_LINES))
                answer = qminder("ticket_created", ticket_id, line, rng.choice(phones))
                lane = answer["queue"]["lane"]
                waiting.append((ticket_id, line, lane))
                print(f"qminder: ticket {ticket_id} at lane {lane} → queue-stage identify, "
                      f"{'known' if answer.get('known') else 'unknown'}", file=out, flush=True)
            elif buyers:
                payments += 1
                buyer = rng.choice(buyers)
                payment_id = f"demo-payment-{payments}"
                event = {"merchant_id": "DEMO", "type": "payment.updated", "event_id": secrets.token_hex(8),
                         "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "data": {"type": "payment", "id": payment_id, "object": {"payment": {
                             "id": payment_id, "status": "COMPLETED", "buyer_email_address": buyer.value,
                             "location_id": "DEMO-LOCATION"}}}}
                body = json.dumps(event).encode()
                signature = hmac_sha256_base64(extra["square_signature_key"],
                                               extra["square_notification_url"].encode() + body)
                answer = post("square/payments", event, {"x-square-hmacsha256-signature": signature})
                outcome = f"floor prompt #{answer['prompt']}" if answer.get("prompt") else "no prompt"
                print(f"square: after-sale payment {payment_id} → {outcome}", file=out, flush=True)
        except (requests.RequestException, ValueError, KeyError) as exc:
            print(f"adapters: webhook not delivered ({exc.__class__.__name__})", file=out, flush=True)


def simulate_head_office(demo: DemoStore, customers, rng: random.Random, out=sys.stdout,
                         pace_s: float = 3.0) -> None:
    """The store syncs with head office every few seconds (list and outcome
    reports); now and then head office publishes a new version in which some
    customers have grown, which the store takes as a delta. Runs until
    ``demo.stop`` is set."""
    rows = [dict(row) for _, row in customers]
    last = demo.store.tiers.info().version
    print(f"head office: store has list version {last} ({demo.store.tiers.info().rows:,} customers)",
          file=out, flush=True)
    rounds = 0
    while not demo.stop.wait(min(DEMO_SYNC_S, pace_s * 3)):
        rounds += 1
        if rounds % 10 == 0:
            for row in rng.sample(rows, 50):
                row["followers"] = int(int(row["followers"]) * rng.uniform(1.1, 3.0))
            published = publish(demo.office, [(None, row) for row in rows])
            print(f"head office: published version {published['version']}"
                  + (f" (delta: {published['delta']['upserts']} changed)" if published["delta"] else ""),
                  file=out, flush=True)
        result = sync_once(demo.store)
        if result.version != last or not result.ok:
            print(f"head office: store sync {result.status}: {result.message}", file=out, flush=True)
            last = result.version if result.ok else last
