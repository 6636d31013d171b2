"""Made-up data for ``posplugin demo``: customers across every tier, a
store's usual queues and weeks of their history. Deterministic for a seed;
identifiers are fake and pass through temporary files only."""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import tempfile
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..tiers.csvfile import open_csv
from ..tiers.lists import parse_engagement
from ..tiers.policy import Policy

if TYPE_CHECKING:
    from ..hq.office import HeadOffice


FIRST_NAMES = ["Sam", "Ana", "Ola", "Kari", "Noah", "Emma", "Liam", "Nora", "Jonas", "Ingrid",
               "Aisha", "Mateo", "Yuki", "Priya", "Lars", "Sofie", "Omar", "Ella", "Finn", "Maja"]


# Floor staff in the demo: never a customer's name, so the console reads clearly.
STAFF_NAMES = ["Marte", "Henrik", "Sara"]


NICHES = ["running", "coffee", "parenting", "gaming", "vegan food", "sneakers", "skincare",
          "home decor", "hiking", "budget tips", "wine", "cycling", "fashion", "tech reviews",
          "baking", "pets", "football", "books", "travel", "DIY"]


LANES = ["1", "2", "3", "4"]


DEMO_ZONE = zoneinfo.ZoneInfo("Europe/Oslo")  # the made-up store's local time


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
        local = at.astimezone(DEMO_ZONE)
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


def publish(office: HeadOffice, rows) -> dict:
    """Publish made-up rows as head office's next version. The rows pass
    through a temporary file only: even fake identifiers do not stay at rest."""
    with tempfile.TemporaryDirectory(prefix="posplugin-demo-list-") as tmp:
        csv_path = Path(tmp) / "demo-tiers.csv"
        write_tier_csv(csv_path, rows)
        with open_csv(csv_path) as stream:
            return office.import_csv(stream)


def banner_customer(customers) -> tuple[DemoCustomer, dict]:
    """The first made-up customer who gets Murdoch-level service: the curl example."""

    policy = Policy()
    for customer, row in customers:
        if row["consent"] == "yes" and policy.score(
                int(row["followers"]), parse_engagement(str(row["engagement_rate"]))).service_level == "murdoch":
            return customer, row
    return customers[0]
