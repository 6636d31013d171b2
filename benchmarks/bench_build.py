"""``posplugin hq tiers build`` from N linked customers, beside ``hq import``
of the same rows in the same run (the floor: the path a tier CSV takes).

Each joined customer has one proven email, a consent to tiering and one
measured account; the CSV has the same identifiers and figures. Both publish
a signed version (snapshot, manifest) through the same code; the build's
extra cost is reading customers, consents and accounts from head office's
database instead of a file. Each step runs in a fresh interpreter so its peak
RSS is its own.

Run: python benchmarks/bench_build.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_identify import KEY  # noqa: E402
from bench_identify import PEAK_MB as PEAK  # noqa: E402

ROOT = str(Path(__file__).resolve().parent.parent)

SETUP = """
import hashlib, hmac, json, time
from pathlib import Path
from sqlalchemy import insert
from posplugin.hq.office import HeadOffice
from posplugin.hq.schema import consents, customer_identifiers, customers, linked_accounts
office = HeadOffice(Path({data!r}), {key!r})
now = time.time()
t = time.perf_counter()
key = {key!r}.encode()
BATCH = 50_000
with open({csv!r}, "w", encoding="utf-8") as out:
    out.write("identifier_type,identifier,followers,engagement_rate,niches,consent\\n")
    for start in range(0, {rows}, BATCH):
        ids = range(start + 1, min(start + BATCH, {rows}) + 1)
        people, idents, agreed, accounts = [], [], [], []
        for i in ids:
            email = f"customer{{i}}@example.com"
            followers = int(10 ** (2 + 4.5 * ((i * 7919) % 10007) / 10007))
            rate = (i % 90) / 1000
            people.append({{"id": i, "created_at": now}})
            idents.append({{"id_hash": hmac.new(key, f"email:{{email}}".encode(), hashlib.sha256).hexdigest(),
                           "customer_id": i, "id_type": "email", "verified_at": now}})
            agreed.append({{"customer_id": i, "version": "2026-11", "scopes": "tiering", "language": "en",
                           "given_at": now}})
            accounts.append({{"customer_id": i, "platform": "instagram", "source": "oauth", "status": "linked",
                             "linked_at": now, "followers": followers, "engagement_rate": rate, "posts": 12,
                             "measured_at": now, "next_refresh_at": now + 86400, "failures": 0}})
            out.write(f"email,{{email}},{{followers}},{{rate:.3f}},,yes\\n")
        with office.engine.begin() as conn:
            conn.execute(insert(customers), people)
            conn.execute(insert(customer_identifiers), idents)
            conn.execute(insert(consents), agreed)
            conn.execute(insert(linked_accounts), accounts)
print(json.dumps({{"seconds": time.perf_counter() - t}}))
"""

BUILD = """
import json, time
{peak}from pathlib import Path
from posplugin.hq.build import Builder
from posplugin.hq.office import HeadOffice
office = HeadOffice(Path({data!r}), {key!r})
t = time.perf_counter()
result = Builder(office).build()
print(json.dumps({{"seconds": time.perf_counter() - t, "rows": result["rows"], "peak_mb": peak_mb()}}))
"""

IMPORT = """
import json, time
{peak}from pathlib import Path
from posplugin.hq.office import HeadOffice
from posplugin.tiers.csvfile import open_csv
office = HeadOffice(Path({data!r}), {key!r})
t = time.perf_counter()
with open_csv({csv!r}) as f:
    result = office.import_csv(f)
print(json.dumps({{"seconds": time.perf_counter() - t, "rows": result["rows"], "peak_mb": peak_mb()}}))
"""


def child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": ROOT})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="posplugin-bench-build-") as tmp:
        joined, imported, csv = Path(tmp, "joined"), Path(tmp, "imported"), Path(tmp, "same-rows.csv")
        setup = child(SETUP.format(data=str(joined), key=KEY, csv=str(csv), rows=args.rows))
        build = child(BUILD.format(peak=PEAK, data=str(joined), key=KEY))
        floor = child(IMPORT.format(peak=PEAK, data=str(imported), key=KEY, csv=str(csv)))
    assert build["rows"] == floor["rows"] == args.rows, (build, floor)
    n = args.rows
    print(f"{n:,} joined customers (setup, not measured: {setup['seconds']:.0f} s)")
    print(f"  hq tiers build   {build['seconds']:7.1f} s  {n / build['seconds']:>9,.0f} rows/s  "
          f"peak RSS {build['peak_mb']:.0f} MB")
    print(f"  hq import (floor){floor['seconds']:7.1f} s  {n / floor['seconds']:>9,.0f} rows/s  "
          f"peak RSS {floor['peak_mb']:.0f} MB")
    print(f"  build / import   {build['seconds'] / floor['seconds']:.2f}× the time")


if __name__ == "__main__":
    main()
