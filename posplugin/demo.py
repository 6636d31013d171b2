"""``posplugin demo``: a whole store on an embedded default, with simulated traffic.

Everything is made up and deterministic for a seed: the identifier key, a tier
list of about 10,000 fake customers across all tiers, tokens, and a till that
identifies customers every few seconds over real HTTP. Head office runs too,
on its own port and data folder: it publishes the list, the store syncs it
over HTTP (verified, by delta after the first time), and the store's outcomes
fill the head office page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import auth, config, datalock
from .app import create_app
from .hq import HeadOffice
from .hq_web import create_hq_app
from .server import BackgroundServer, Housekeeper, stop_on_sigterm
from .store import Store
from .sync import sync_once
from .tiers import open_text
from .webhooks import hmac_sha256_base64, hmac_sha256_hex

FIRST_NAMES = ["Sam", "Ana", "Ola", "Kari", "Noah", "Emma", "Liam", "Nora", "Jonas", "Ingrid",
               "Aisha", "Mateo", "Yuki", "Priya", "Lars", "Sofie", "Omar", "Ella", "Finn", "Maja"]
NICHES = ["running", "coffee", "parenting", "gaming", "vegan food", "sneakers", "skincare",
          "home decor", "hiking", "budget tips", "wine", "cycling", "fashion", "tech reviews",
          "baking", "pets", "football", "books", "travel", "DIY"]
LANES = ["1", "2", "3", "4"]
_OSLO = __import__("zoneinfo").ZoneInfo("Europe/Oslo")


@dataclass
class DemoCustomer:
    id_type: str
    value: str
    name: str


def synthetic_customers(count: int = 10_000, seed: int = 42) -> list[tuple[DemoCustomer, dict]]:
    """Fake customers with a spread of tiers: mostly everyday and nano, a few
    micro, macro and mega, some with high engagement, some opted out."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = rng.choices(["phone", "email", "loyalty_id", "handle"], [4, 3, 2, 1])[0]
        value = {"phone": f"+47 4{i:07d}", "email": f"customer{i}@example.com",
                 "loyalty_id": f"L{100000 + i}", "handle": f"@shopper_{i}"}[kind]
        followers = int(rng.choices(
            [rng.uniform(50, 999), rng.uniform(1_000, 9_999), rng.uniform(10_000, 99_999),
             rng.uniform(100_000, 999_999), rng.uniform(1_000_000, 5_000_000)],
            [40, 35, 17, 6, 2])[0])
        rate = round(rng.choice([rng.uniform(0.002, 0.02), rng.uniform(0.02, 0.09)]), 4)
        row = {"identifier_type": kind, "identifier": value, "followers": followers,
               "engagement_rate": f"{rate * 100:.1f}%" if i % 3 else rate,
               "niches": ";".join(rng.sample(NICHES, rng.randint(1, 3))),
               "consent": "no" if rng.random() < 0.03 else "yes"}
        out.append((DemoCustomer(kind, value, rng.choice(FIRST_NAMES)), row))
    return out


def usual_length(hour: float, weekday: int) -> float:
    """A made-up store's usual queue: quiet mornings, a lunchtime rush, an
    after-work peak, busier on Saturdays."""
    lunch = 5 * math.exp(-((hour - 12.5) ** 2) / 0.8)
    evening = 4 * math.exp(-((hour - 17.5) ** 2) / 1.2)
    return (1 + lunch + evening) * (1.5 if weekday == 5 else 1.0)


def queue_history_csv(now: float, weeks: int = 4, seed: int = 42) -> str:
    """``lane,at,length`` readings every 10 minutes of opening hours for past weeks."""
    rng = random.Random(seed)
    tz = dt.timezone.utc
    lines = ["lane,at,length"]
    start = dt.datetime.fromtimestamp(now, tz).replace(minute=0, second=0, microsecond=0)
    for hours_back in range(weeks * 7 * 24, 0, -1):
        at = start - dt.timedelta(hours=hours_back)
        local = at.astimezone(_OSLO)
        if not 8 <= local.hour < 21:
            continue
        for minute in range(0, 60, 10):
            when = at + dt.timedelta(minutes=minute)
            for lane in LANES:
                usual = usual_length(local.hour + minute / 60, local.weekday())
                lines.append(f"{lane},{when.isoformat()},{max(0, round(rng.gauss(usual, 1)))}")
    return "\n".join(lines) + "\n"


def write_tier_csv(path: Path, customers) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["identifier_type", "identifier", "followers",
                                               "engagement_rate", "niches", "consent"])
        writer.writeheader()
        for _, row in customers:
            writer.writerow(row)


@dataclass
class DemoStore:
    """A running demo store and its head office: data folders, servers, tokens."""

    data_dir: Path
    store: Store
    server: BackgroundServer
    tokens: dict[str, str]
    customers: list[DemoCustomer]
    example: DemoCustomer
    office: HeadOffice | None = None
    hq_server: BackgroundServer | None = None
    hq_admin: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    housekeepers: list = field(default_factory=list)
    lock: object = None

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.stop.set()
        for keeper in self.housekeepers:
            keeper.stop()
        self.server.stop()
        self.store.close()
        if self.hq_server:
            self.hq_server.stop()
            self.office.close()
        if self.lock:
            self.lock.release()


def _serve(app, host: str, port: int, threads: int = 8, max_streams: int = 100) -> BackgroundServer:
    """Serve on ``port``, or on any free port when it is taken."""
    try:
        return BackgroundServer(app, host, port, threads, max_streams).start()
    except OSError:
        return BackgroundServer(app, host, 0, threads, max_streams).start()


def publish(office: HeadOffice, rows) -> dict:
    """Publish made-up rows as head office's next version. The rows pass
    through a temporary file only: even fake identifiers do not stay at rest."""
    with tempfile.TemporaryDirectory(prefix="posplugin-demo-list-") as tmp:
        csv_path = Path(tmp) / "demo-tiers.csv"
        write_tier_csv(csv_path, rows)
        with open_text(csv_path) as stream:
            return office.import_csv(stream)


def start_head_office(data_dir: Path, settings, host: str, port: int, customers) -> tuple:
    """Head office in ``data_dir/hq`` with the demo list published; returns
    (office, server, store token, admin token)."""
    office = HeadOffice(data_dir / "hq", settings.id_key, default_region=settings.default_region,
                        timezone=settings.tz(), stale_after_s=3 * DEMO_SYNC_S)
    if office.latest() is None:
        publish(office, customers)
    server = _serve(create_hq_app(office, language=settings.language), host, port)
    return office, server, office.create_token("store", "demo-store"), office.create_token("admin", "demo-admin")


DEMO_SYNC_S = 10

# The vendor adapters the demo runs (bundled hooks), with made-up secrets: a
# simulated Qminder queue system and Square POS post signed webhooks to them.
QMINDER_URL = "https://store.example/hooks/qminder/tickets"
SQUARE_URL = "https://store.example/hooks/square/payments"
QMINDER_LINES = {"37338": "1", "37339": "2", "37340": "3", "37341": "4"}


def demo_adapters(settings) -> dict:
    """Settings changes that enable the ``qminder`` and ``square`` plugins with
    fresh demo secrets (on top of whatever plugins the ini file names)."""
    plugins = [p.strip() for p in settings.plugins.split(",") if p.strip()]
    plugins += [p for p in ("qminder", "square") if p not in plugins]
    extra = dict(settings.extra)
    extra.setdefault("qminder_secret", secrets.token_hex(16))
    extra.setdefault("qminder_webhook_url", QMINDER_URL)
    extra.setdefault("qminder_lines", ", ".join(f"{line}={lane}" for line, lane in QMINDER_LINES.items()))
    extra.setdefault("square_signature_key", secrets.token_hex(16))
    extra.setdefault("square_notification_url", SQUARE_URL)
    return {"plugins": ", ".join(plugins), "extra": extra}


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 8765, seed: int = 42) -> DemoStore:
    """Set up a demo store and its head office in ``data_dir`` (reused if it
    exists), sync the store's list from head office, and start serving."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = datalock.hold(data_dir, "demo")
    ini = data_dir / config.INI_NAME
    if not ini.exists():
        # A short calm period so a visitor sees pain prompts close within a minute.
        ini.write_text(f"[posplugin]\nid_key = {secrets.token_hex(32)}\ndefault_region = NO\n"
                       "timezone = Europe/Oslo\nrate_limit_per_s = 0\npain_calm_s = 20\n",
                       encoding="utf-8")
    settings = config.load(data_dir, environ={})
    customers = synthetic_customers(seed=seed)
    office, hq_server, store_token, hq_admin = start_head_office(
        data_dir, settings, host, 8766 if port else 0, customers)
    settings = settings.replace(hq_url=hq_server.url, hq_token=store_token, hq_public_key=office.public_key,
                                sync_interval_s=DEMO_SYNC_S, **demo_adapters(settings))
    store = Store(settings)
    sync_once(store)
    if store.db.execute("SELECT count(*) FROM queue_history").fetchone()[0] == 0:
        store.queues.import_csv(io.StringIO(queue_history_csv(store.clock(), weeks=4, seed=seed)))
    tokens = {}
    with store.db.write() as conn:
        for role in auth.ROLES:
            tokens[role] = auth.create_token(conn, role, f"demo-{role}")
    server = _serve(create_app(store=store), host, port, settings.threads, settings.max_streams)
    demo = DemoStore(data_dir, store, server, tokens, [c for c, _ in customers], banner_customer(customers)[0],
                     office, hq_server, hq_admin, lock=lock)
    ticker = Housekeeper([store.tick], interval_s=2, name="posplugin-demo-ticker")
    ticker.start()
    demo.housekeepers.append(ticker)
    return demo


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
        local = dt.datetime.now(_OSLO)
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
    from .policy import Policy
    from .tiers import parse_engagement

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


def banner_customer(customers) -> tuple[DemoCustomer, dict]:
    """The first made-up customer who gets Murdoch-level service: the curl example."""
    from .policy import Policy
    from .tiers import parse_engagement

    policy = Policy()
    for customer, row in customers:
        if row["consent"] == "yes" and policy.score(
                int(row["followers"]), parse_engagement(str(row["engagement_rate"]))).service_level == "murdoch":
            return customer, row
    return customers[0]


def banner(demo: DemoStore) -> str:
    t = demo.tokens
    example = demo.example
    return "\n".join([
        "posplugin demo store is running",
        f"  data folder   {demo.data_dir}",
        f"  service       {demo.url}",
        f"  health        {demo.url}/healthz",
        f"  API document  {demo.url}/api/v1/openapi.json",
        f"  queues        curl -s {demo.url}/api/v1/queues -H 'Authorization: Bearer {t['staff']}'",
        "  pages (open in a browser; the token after # pairs the page):",
        f"    cashier's card, lane 1   {demo.url}/till?lane=1#token={t['staff']}",
        f"    floor tablet             {demo.url}/floor#token={t['staff']}",
        "  head office (signed tier lists out, the store's outcomes back):",
        f"    head office page         {demo.hq_server.url}/hq#token={demo.hq_admin}",
        "  vendor adapters (simulated, signed webhooks):",
        f"    Qminder queue tickets    {demo.url}/hooks/qminder/tickets",
        f"    Square payments          {demo.url}/hooks/square/payments",
        f"  tokens        till={t['till']}",
        f"                staff={t['staff']}",
        f"                queue={t['queue']}",
        f"                admin={t['admin']}",
        "  try it:",
        f"    curl -s -X POST {demo.url}/api/v1/identify -H 'Authorization: Bearer {t['till']}' \\",
        "      -H 'Content-Type: application/json' \\",
        f"      -d '{{\"lane\": \"3\", \"identifier\": {{\"type\": \"{example.id_type}\", "
        f"\"value\": \"{example.value}\"}}, \"display_name\": \"{example.name}\"}}'",
        "  press Ctrl-C to stop",
        "",
    ])


def run(data: str | None = None, host: str | None = None, port: int | None = None,
        duration: float | None = None, seed: int = 42, pace_s: float = 3.0, out=sys.stdout) -> int:
    """Run the demo until Ctrl-C (or for ``duration`` seconds)."""
    temporary = data is None
    data_dir = Path(data) if data else Path(tempfile.mkdtemp(prefix="posplugin-demo-"))
    demo = start(data_dir, host or "127.0.0.1", 8765 if port is None else port, seed)
    print(banner(demo), file=out, flush=True)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in (
        (simulate_till, (demo, random.Random(seed), out, pace_s)),
        (simulate_queues, (demo, random.Random(seed + 1), out, pace_s)),
        (simulate_head_office, (demo, synthetic_customers(seed=seed), random.Random(seed + 2), out, pace_s)),
        (simulate_adapters, (demo, synthetic_customers(seed=seed), random.Random(seed + 3), out, pace_s)))]
    for thread in threads:
        thread.start()
    stop_on_sigterm()
    try:
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop.set()
        for thread in threads:
            thread.join(timeout=6)
        sync_once(demo.store)  # the last outcomes reach head office before it stops
        demo.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
