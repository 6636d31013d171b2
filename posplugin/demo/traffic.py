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
import time

import requests

from .. import texts
from ..store.sync import sync_once
from ..tiers.lists import parse_engagement
from ..tiers.policy import Policy
from ..timeutil import parse_iso
from ..webhooks import hmac_sha256_base64, hmac_sha256_hex
from .data import DEMO_ZONE, FIRST_NAMES, LANES, STAFF_NAMES, DemoCustomer, publish, usual_length
from .world import DemoStore

DEMO_SYNC_S = 10


# The vendor adapters the demo runs (bundled hooks), with made-up secrets: a
# simulated Qminder queue system and Square POS post signed webhooks to them.
QMINDER_URL = "https://store.example/hooks/qminder/tickets"


SQUARE_URL = "https://store.example/hooks/square/payments"


QMINDER_LINES = {"37338": "1", "37339": "2", "37340": "3", "37341": "4"}


# Square devices: two stand at lanes (square_devices maps them), one at the café counter.
SQUARE_DEVICES = [("DEMO-DEVICE-1", "Reader 1"), ("DEMO-DEVICE-3", "Reader 3"), ("DEMO-DEVICE-CAFE", "Café")]


def _level(demo: DemoStore, level: str) -> str:
    return demo.narrator.say(f"demo.level.{level}")


def simulate_till(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Identify a customer at a random lane every few seconds (staff act on
    the prompts in :func:`simulate_staff`); before the next customer at a
    lane, the till reports the one before's sale done (POST /api/v1/sales),
    which closes their prompt. Runs until ``demo.stop`` is set."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {demo.tokens['till']}"
    at_till: dict[str, DemoCustomer] = {}
    while not demo.stop.is_set():
        lane = rng.choice(LANES)
        if rng.random() < 0.6:
            customer = rng.choice(demo.customers)
        else:
            n = rng.randint(0, 10**7)
            customer = DemoCustomer("phone", f"+47 9{n:07d}", rng.choice(FIRST_NAMES))
        try:
            if lane in at_till:
                sale_done(demo, http, lane, at_till.pop(lane), round(rng.uniform(49, 1200), 2))
            identify_at_till(demo, http, lane, customer)
            at_till[lane] = customer
        except requests.RequestException as exc:
            demo.tell("till_down", error=exc.__class__.__name__)
        demo.stop.wait(rng.uniform(pace_s * 0.5, pace_s * 1.5))


def identify_at_till(demo: DemoStore, http: requests.Session, lane: str, customer: DemoCustomer) -> None:
    """The till identifies ``customer`` at ``lane``; a prompt for the cashier is told."""
    body = {"lane": lane, "identifier": {"type": customer.id_type, "value": customer.value},
            "display_name": customer.name}
    answer = http.post(f"{demo.url}/api/v1/identify", json=body, timeout=5).json()
    if answer.get("prompt"):
        # Who they are in figures the level follows from: engaged reach, not a tier's name.
        language = demo.store.settings.language
        demo.tell("customer_prompt", lane=lane, name=customer.name, id=answer["prompt"]["id"],
                  followers=texts.number(answer["followers"], language),
                  reach=texts.number(answer["engaged_reach"], language), level=_level(demo, answer["service_level"]))
    else:
        demo.tell("customer", lane=lane, level=answer["service_level"])


def sale_done(demo: DemoStore, http: requests.Session, lane: str, customer: DemoCustomer, total: float) -> None:
    """The till reports ``customer``'s sale done: their prompt closes; an influencer's invitation goes to the floor."""
    answer = http.post(f"{demo.url}/api/v1/sales", timeout=5, json={
        "lane": lane, "identifier": {"type": customer.id_type, "value": customer.value},
        "display_name": customer.name, "sale_total": total}).json()
    demo.tell("sale_invited" if answer.get("prompt") else "sale_done", lane=lane, name=customer.name)


def simulate_staff(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Floor staff (never a customer's name) acting on prompts after a while,
    as people do: most service prompts are taken within seconds and resolved,
    urgent pain is taken quickly and closes once the lane calms, some
    after-sale invitations are taken and the rest expire. Runs until
    ``demo.stop`` is set."""
    staff = requests.Session()
    staff.headers["Authorization"] = f"Bearer {demo.tokens['staff']}"
    plans: dict[int, list] = {}  # prompt id -> [take_at, resolve_at or None, who, title, created]
    scale = pace_s / 3.0
    while not demo.stop.wait(max(0.1, pace_s * 0.3)):
        try:
            open_prompts = staff.get(f"{demo.url}/api/v1/prompts?status=open", timeout=5).json()["prompts"]
        except (requests.RequestException, ValueError, KeyError):
            continue
        now = time.monotonic()
        for prompt in open_prompts:
            if prompt["id"] in plans or (prompt.get("queue") or {}).get("calm"):
                continue  # planned already, or a lane back to normal: nothing to do
            chance, low, high = {"pain": (0.9, 3, 10), "service": (0.8, 1, 6), "amplify": (0.5, 10, 40),
                                "heard": (0.95, 5, 30)}.get(
                prompt["kind"], (0.5, 5, 20))
            if rng.random() >= chance:
                plans[prompt["id"]] = None  # nobody gets to this one
                continue
            take = now + rng.uniform(low, high) * scale
            resolve = None if prompt["kind"] == "pain" and prompt.get("queue") else take + rng.uniform(2, 8) * scale
            waited = max(0.0, time.time() - parse_iso(prompt["created_at"]))  # it may be older than this round
            plans[prompt["id"]] = [take, resolve, rng.choice(STAFF_NAMES), prompt["title"], now - waited]
        for prompt_id, plan in plans.items():
            if plan is None:
                continue
            take, resolve, who, title, seen = plan
            try:
                if take is not None and now >= take:
                    answer = staff.post(f"{demo.url}/api/v1/prompts/{prompt_id}/ack", json={"by": who}, timeout=5)
                    plan[0] = None
                    if answer.ok and answer.json().get("taken_by") == who:
                        demo.tell("took", staff=who, id=prompt_id, seconds=round(now - seen), title=title)
                elif take is None and resolve is not None and now >= resolve:
                    answer = staff.post(f"{demo.url}/api/v1/prompts/{prompt_id}/resolve", json={"by": who},
                                        timeout=5)
                    plan[1] = None
                    if answer.ok and answer.json().get("resolved_by") == who:
                        demo.tell("resolved", staff=who, id=prompt_id)
            except requests.RequestException:
                continue


def simulate_queues(demo: DemoStore, rng: random.Random, out=sys.stdout, pace_s: float = 3.0) -> None:
    """Readings from a made-up people counter at every lane, around what is
    usual for the hour, with a rush at one lane now and then; some customers in
    the queue scan their loyalty card (:func:`narrate_queues` tells what the
    store made of it). Runs until ``demo.stop`` is set."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {demo.tokens['queue']}"
    staff = requests.Session()
    staff.headers["Authorization"] = f"Bearer {demo.tokens['staff']}"
    lengths = {lane: 1 for lane in LANES}
    rush_lane, rush_left = None, 0
    while not demo.stop.is_set():
        local = dt.datetime.now(DEMO_ZONE)
        if rush_left <= 0 and rng.random() < 0.08:
            rush_lane, rush_left = rng.choice(LANES), rng.randint(6, 12)
            demo.tell("rush", lane=rush_lane)
        try:
            # Start from what the store counts now (Qminder's tickets join and leave
            # the same lanes), so the console's figures never jump back and forth.
            counted = staff.get(f"{demo.url}/api/v1/queues", timeout=5).json()["lanes"]
            lengths.update({l["lane"]: l["length"] for l in counted if l["lane"] in lengths})
        except (requests.RequestException, ValueError, KeyError):
            pass
        for lane in LANES:
            usual = usual_length(local.hour + local.minute / 60, local.weekday())
            target = usual + (8 if lane == rush_lane and rush_left > 0 else 0)
            lengths[lane] = max(0, round(lengths[lane] + (target - lengths[lane]) * 0.5
                                         + rng.gauss(0, 0.7)))
            try:
                http.post(f"{demo.url}/api/v1/queue", timeout=5, json={"lane": lane, "length": lengths[lane]})
            except requests.RequestException:
                continue
            if lane == rush_lane and rush_left > 0 and rng.random() < 0.5:
                customer = rng.choice(demo.customers)
                http.post(f"{demo.url}/api/v1/identify", timeout=5, json={
                    "lane": lane, "stage": "queue", "identifier": {
                        "type": customer.id_type, "value": customer.value}})
        rush_left -= 1
        demo.stop.wait(rng.uniform(pace_s * 0.5, pace_s * 1.5))


def narrate_queues(demo: DemoStore, out=sys.stdout) -> None:
    """Tell the lanes' story from the store's own events, in the order they
    happened whatever caused them (the people counter, Qminder's tickets):
    each lane's state for the minute's summary, a pain prompt raised, calm
    again, or closed. Runs until ``demo.stop`` is set."""
    told: dict[int, set[str]] = {}  # pain prompt id -> what has been told of it
    with demo.store.bus.subscribe() as events:
        while not demo.stop.is_set():
            event = events.get(timeout=0.2)
            if event is None:
                continue
            data = event.data
            if event.kind == "queue":
                demo.narrator.lane(data["lane"], data["length"], data["normal"], data["status"])
            elif event.kind == "prompt" and data["kind"] == "pain" and data.get("queue"):
                _pain(demo, data, told)


def _pain(demo: DemoStore, prompt: dict, told: dict[int, set[str]]) -> None:
    """A lane's pain prompt raised, back to normal (calm, asking nothing), long
    again, or closed. A lane that wobbles around normal is told once each way
    per episode; the minute's summary has its state after that."""
    key, lane = prompt["id"], prompt["lane"]
    said = told.setdefault(key, set())
    if prompt["status"] == "resolved":
        if told.pop(key, None):
            demo.tell("pain_closed", lane=lane, id=key)
        return
    if prompt["status"] != "open":
        return
    calm = bool(prompt["queue"].get("calm"))
    step = "raised" if not said else "calm" if calm else "again" if "calm" in said else None
    if step and step not in said:
        said.add(step)
        demo.tell(f"pain_{step}", id=key, lane=lane, body=prompt["body"])


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
                qminder("ticket_called", ticket_id, line)
                # No count here: the people counter's readings are the lane's one source.
                demo.tell("ticket_called", ticket=ticket_id, lane=lane)
            elif phones and (rng.random() < 0.6 or not buyers):
                tickets += 1
                ticket_id, line = f"{9_000_000 + tickets}", rng.choice(list(QMINDER_LINES))
                answer = qminder("ticket_created", ticket_id, line, rng.choice(phones))
                lane = answer["queue"]["lane"]
                waiting.append((ticket_id, line, lane))
                demo.tell("ticket_created_known" if answer.get("known") else "ticket_created_unknown",
                          ticket=ticket_id, lane=lane)
            elif buyers:
                payments += 1
                buyer = rng.choice(buyers)
                payment_id = f"demo-payment-{payments}"
                device_id, place = rng.choice(SQUARE_DEVICES)
                event = {"merchant_id": "DEMO", "type": "payment.updated", "event_id": secrets.token_hex(8),
                         "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "data": {"type": "payment", "id": payment_id, "object": {"payment": {
                             "id": payment_id, "status": "COMPLETED", "buyer_email_address": buyer.value,
                             "location_id": "DEMO-LOCATION", "billing_address": {"first_name": buyer.name},
                             "device_details": {"device_id": device_id, "device_name": place}}}}}
                body = json.dumps(event).encode()
                signature = hmac_sha256_base64(extra["square_signature_key"],
                                               extra["square_notification_url"].encode() + body)
                answer = post("square/payments", event, {"x-square-hmacsha256-signature": signature})
                if answer.get("prompt"):
                    demo.tell("payment_prompt", payment=payment_id, place=place, id=answer["prompt"],
                              name=buyer.name)
                else:
                    demo.tell("payment_none", payment=payment_id, place=place)
        except (requests.RequestException, ValueError, KeyError) as exc:
            demo.tell("webhook_failed", error=exc.__class__.__name__)


def simulate_head_office(demo: DemoStore, customers, rng: random.Random, out=sys.stdout,
                         pace_s: float = 3.0) -> None:
    """The store syncs with head office every few seconds (list and outcome
    reports); now and then head office publishes a new version in which some
    customers have grown, which the store takes as a delta. Runs until
    ``demo.stop`` is set."""
    rows = [dict(row) for _, row in customers]
    last = demo.store.tiers.info().version
    language = demo.store.settings.language
    demo.tell("hq_has", version=last, rows=texts.number(demo.store.tiers.info().rows, language))
    rounds = 0
    while not demo.stop.wait(min(DEMO_SYNC_S, pace_s * 3)):
        rounds += 1
        if rounds % 10 == 0:
            for row in rng.sample(rows, 50):
                row["followers"] = int(int(row["followers"]) * rng.uniform(1.1, 3.0))
            published = publish(demo.office, [(None, row) for row in rows])
            if published["delta"]:
                demo.tell("hq_delta", version=published["version"],
                          changed=texts.number(published["delta"]["upserts"], language))
            else:
                demo.tell("hq_published", version=published["version"])
        result = sync_once(demo.store)
        if result.ok and result.version != last:
            demo.tell("hq_synced", version=result.version, rows=texts.number(demo.store.tiers.info().rows, language))
            last = result.version
        elif not result.ok:
            # The store's own log has the details; the console says what it means.
            demo.tell("hq_sync_failed", status=demo.narrator.say(f"demo.sync.{result.status}"))
