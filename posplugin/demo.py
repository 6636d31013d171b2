"""``posplugin demo``: a whole store on an embedded default, with simulated traffic.

Everything is made up and deterministic for a seed: the identifier key, a tier
list of about 10,000 fake customers across all tiers, tokens, and a till that
identifies customers every few seconds over real HTTP.
"""

from __future__ import annotations

import csv
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

from . import auth, config
from .app import create_app
from .identity import Hasher
from .server import BackgroundServer
from .store import Store
from .tiers import import_csv, open_text

FIRST_NAMES = ["Sam", "Ana", "Ola", "Kari", "Noah", "Emma", "Liam", "Nora", "Jonas", "Ingrid",
               "Aisha", "Mateo", "Yuki", "Priya", "Lars", "Sofie", "Omar", "Ella", "Finn", "Maja"]
NICHES = ["running", "coffee", "parenting", "gaming", "vegan food", "sneakers", "skincare",
          "home decor", "hiking", "budget tips", "wine", "cycling", "fashion", "tech reviews",
          "baking", "pets", "football", "books", "travel", "DIY"]
LANES = ["1", "2", "3", "4"]


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


def write_tier_csv(path: Path, customers) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["identifier_type", "identifier", "followers",
                                               "engagement_rate", "niches", "consent"])
        writer.writeheader()
        for _, row in customers:
            writer.writerow(row)


@dataclass
class DemoStore:
    """A running demo store: its data folder, server and tokens."""

    data_dir: Path
    store: Store
    server: BackgroundServer
    tokens: dict[str, str]
    customers: list[DemoCustomer]
    example: DemoCustomer
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 8765, seed: int = 42) -> DemoStore:
    """Set up a demo store in ``data_dir`` (reused if it exists) and start serving."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ini = data_dir / config.INI_NAME
    if not ini.exists():
        ini.write_text(f"[posplugin]\nid_key = {secrets.token_hex(32)}\ndefault_region = NO\n"
                       "timezone = Europe/Oslo\nrate_limit_per_s = 0\n", encoding="utf-8")
    settings = config.load(data_dir, environ={})
    store = Store(settings)
    customers = synthetic_customers(seed=seed)
    if store.tiers.info().rows == 0:
        # The made-up list passes through a temporary file only: even fake
        # identifiers do not stay at rest in the data folder.
        with tempfile.TemporaryDirectory(prefix="posplugin-demo-list-") as tmp:
            csv_path = Path(tmp) / "demo-tiers.csv"
            write_tier_csv(csv_path, customers)
            with open_text(csv_path) as stream:
                import_csv(store.tiers, stream, Hasher(settings.id_key, settings.default_region))
    tokens = {}
    with store.db.write() as conn:
        for role in auth.ROLES:
            tokens[role] = auth.create_token(conn, role, f"demo-{role}")
    try:
        server = BackgroundServer(create_app(store=store), host, port, threads=settings.threads)
    except OSError:
        server = BackgroundServer(create_app(store=store), host, 0, threads=settings.threads)
    server.start()
    return DemoStore(data_dir, store, server, tokens, [c for c, _ in customers],
                     banner_customer(customers)[0])


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
    till = threading.Thread(target=simulate_till, args=(demo, random.Random(seed), out, pace_s),
                            daemon=True)
    till.start()
    try:
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop.set()
        till.join(timeout=6)
        demo.server.stop()
        demo.store.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
