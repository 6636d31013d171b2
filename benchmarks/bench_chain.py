"""Head office at chain scale, each figure beside a floor measured in the same run.

Head office runs as its own process(es) (`posplugin hq serve`) on loopback,
over SQLite with one process, and over PostgreSQL (a throw-away cluster of
Debian's package, default durability settings) with one process and with two
worker processes. The simulated stores run in a separate process (asyncio +
aiohttp), so they do not share head office's interpreter.

1. The chain's traffic: N stores, each polling the manifest every
   `sync_interval_s` (300 s, ±20 % jitter, If-None-Match so most answers are
   304) and sending a report batch every 5 minutes. Time is compressed: the
   benchmark runs a window of the 5-minute cycle at the real rate (so the
   figure is the latency at the chain's rate), then at `--compress` times it.
   Poll and report p50/p99 | floor: a request head office refuses before
   touching the database (no token, 401), paced at the same rate.
2. Sustained requests per second: the same mix, closed loop, 32 connections
   | floor: the 401 answer, closed loop, same connections.
3. The dashboard `/hq/v1/stores?days=90` with N stores × 90 days × 14 open
   hours of hourly rows and one time to act per store-hour, p95 of repeated
   requests | floor: `count(*)` of the same rows in the same database.
4. Publishing a version of R rows (import, snapshot; then the next version
   with 1 % changed: import, snapshot and delta) | floor: reading the CSV and
   HMAC-ing each identifier, the least any import must do.

Run: python benchmarks/bench_chain.py [--stores 500,5000] [--seconds 20] [--rows 5000000]
     [--only traffic,dashboard,publish]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_identify import KEY, percentile, write_csv  # noqa: E402
from servers import PostgresCluster, free_port  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from posplugin.hq.db import pack  # noqa: E402
from posplugin.hq.office import HeadOffice  # noqa: E402
from posplugin.hq.schema import hq_tokens, store_hours  # noqa: E402
from posplugin.tokens import digest  # noqa: E402

INTERVAL_S = 300.0
DAYS = 90
OPEN_HOURS = range(8, 22)  # 14 open hours a day

LOAD_CODE = r"""
import asyncio, json, random, sys, time, uuid
import aiohttp

base, tokens_file, mode, rate_scale, seconds, interval = sys.argv[1:7]
rate_scale, seconds, interval = float(rate_scale), float(seconds), float(interval)
tokens = open(tokens_file).read().split()
HOUR = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())

def report():
    return {"batch": uuid.uuid4().hex, "hours": [{
        "hour": HOUR, "made": {"service:murdoch": 2, "service:priority": 3}, "taken": 4, "resolved": 4,
        "expired": 1, "pain_episodes": 1, "pain_seconds": 420.0,
        "times_to_act_s": [round(random.uniform(5, 240), 1) for _ in range(4)],
        "pain_durations_s": [420.0], "reach_served": {"murdoch": 600, "priority": 240}}]}

async def one(session, kind, i, etag, out):
    headers = {} if kind == "floor" else {"Authorization": "Bearer " + tokens[i]}
    t = time.perf_counter()
    if kind == "report":
        async with session.post(base + "/hq/v1/reports", json=report(), headers=headers) as r:
            await r.read()
            ok = r.status == 200
    else:
        if kind == "poll":
            headers.update({"If-None-Match": etag, "X-Posplugin-List-Version": "1"})
        async with session.get(base + "/hq/v1/feed/manifest.json", headers=headers) as r:
            await r.read()
            ok = r.status in ((304, 200) if kind == "poll" else (401,))
    out.append((kind, time.perf_counter() - t, ok))

async def main():
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.get(base + "/hq/v1/feed/manifest.json",
                               headers={"Authorization": "Bearer " + tokens[0]}) as r:
            assert r.status == 200, (r.status, await r.text())
            etag = r.headers["ETag"]
        out = []
        if mode in ("paced", "paced-floor"):
            # Each store's own schedule: a poll and a report per interval (both
            # with +-20 % jitter), compressed by rate_scale.
            events = []
            span = interval / rate_scale
            for i in range(len(tokens)):
                for kind, at in (("poll", random.uniform(0, span)), ("report", random.uniform(0, span))):
                    while at < seconds:
                        events.append((at, kind if mode == "paced" else "floor", i))
                        at += span * random.uniform(0.8, 1.2)
            events.sort()
            start = time.perf_counter()
            tasks = []
            for at, kind, i in events:
                delay = start + at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(session, kind, i, etag, out)))
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - start
        else:  # closed loop: 32 connections as fast as head office answers
            stop = time.perf_counter() + seconds
            async def worker(k):
                i = k
                while time.perf_counter() < stop:
                    kind = "floor" if mode == "peak-floor" else ("poll", "report")[i % 2]
                    await one(session, kind, i % len(tokens), etag, out)
                    i += 32
            start = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(32)))
            elapsed = time.perf_counter() - start
        print(json.dumps({"elapsed": elapsed, "results": out}))

asyncio.run(main())
"""


def load(base: str, tokens_file: Path, mode: str, rate_scale: float, seconds: float) -> dict:
    """Run the simulated stores in their own process; returns latencies by kind."""
    done = subprocess.run([sys.executable, "-c", LOAD_CODE, base, str(tokens_file), mode, str(rate_scale),
                           str(seconds), str(INTERVAL_S)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    by_kind: dict[str, list[float]] = {}
    failed = 0
    for kind, latency, ok in out["results"]:
        by_kind.setdefault(kind, []).append(latency)
        failed += not ok
    return {"elapsed": out["elapsed"], "by_kind": by_kind, "failed": failed,
            "count": len(out["results"])}


def ms(values, p) -> str:
    return f"{percentile(values, p) * 1e3:.1f} ms" if values else "—"


class Backend:
    """One head office under test: its data folder, database and serving processes."""

    def __init__(self, name: str, folder: Path, url: str, workers: int):
        self.name, self.folder, self.url, self.workers = name, folder, url, workers
        self.process = None
        self.port = free_port()

    def office(self) -> HeadOffice:
        return HeadOffice(self.folder, KEY, default_region="NO", database_url=self.url)

    def prepare(self, stores: int) -> Path:
        """Tokens for ``stores`` stores (and a first list version); returns the token file."""
        office = self.office()
        tokens = [f"hq_bench_{i}" for i in range(stores)]
        with office.engine.begin() as conn:
            conn.execute(hq_tokens.delete())
            conn.execute(hq_tokens.insert(), [{"name": f"store-{i:05d}", "role": "store",
                                               "token_hash": digest(t), "created_at": time.time()}
                                              for i, t in enumerate(tokens)])
            conn.execute(hq_tokens.insert().values(name="ops", role="admin", token_hash=digest("hq_admin"),
                                                   created_at=time.time()))
        if office.latest() is None:
            office.import_csv(io.StringIO("identifier_type,identifier,followers,engagement_rate,niches,consent\n"
                                          "email,a@example.com,5000,0.05,,yes\n"))
        office.close()
        path = self.folder / "tokens.txt"
        path.write_text("\n".join(tokens))
        return path

    def start(self) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
        env.update(PYTHONPATH=str(ROOT), POSPLUGIN_ID_KEY=KEY, POSPLUGIN_HQ_DATABASE_URL=self.url)
        self.process = subprocess.Popen([sys.executable, "-m", "posplugin", "hq", "serve", "--data",
                                         str(self.folder), "--port", str(self.port), "--workers",
                                         str(self.workers)], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{self.port}"
        import requests
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/hq/v1/openapi.json", timeout=5)
                return base
            except requests.RequestException:  # not up yet, or slow to answer on a loaded machine
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def bench_traffic(backend: Backend, stores: int, seconds: float, compress: float, sustained: bool = True) -> None:
    tokens = backend.prepare(stores)
    base = backend.start()
    try:
        needed = 2 * stores / INTERVAL_S
        for scale in (1.0, compress) if compress > 1 else (1.0,):
            ours = load(base, tokens, "paced", scale, seconds)
            floor = load(base, tokens, "paced-floor", scale, seconds)
            polls, reports = ours["by_kind"].get("poll", []), ours["by_kind"].get("report", [])
            print(f"  [load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}]")
            print(f"  {backend.name}, {stores} stores at {scale:g}× the chain's rate ({needed * scale:.0f} req/s, "
                  f"{ours['count']} requests, {ours['failed']} failed): poll p50 {ms(polls, 50)}, p99 "
                  f"{ms(polls, 99)}; report p50 {ms(reports, 50)}, p99 {ms(reports, 99)} | floor (401): "
                  f"p50 {ms(floor['by_kind'].get('floor', []), 50)}, p99 {ms(floor['by_kind'].get('floor', []), 99)}")
        if not sustained:
            return
        peak = load(base, tokens, "peak", 1, seconds)
        peak_floor = load(base, tokens, "peak-floor", 1, seconds)
        ours_rps, floor_rps = peak["count"] / peak["elapsed"], peak_floor["count"] / peak_floor["elapsed"]
        print(f"  {backend.name}, {stores} stores, sustained (closed loop, 32 connections, half polls half "
              f"reports, {peak['failed']} failed): {ours_rps:,.0f} req/s = {ours_rps / needed:.0f}× what "
              f"{stores} stores need ({needed:.0f} req/s) | floor (401): {floor_rps:,.0f} req/s "
              f"(ratio {ours_rps / floor_rps:.2f})")
    finally:
        backend.stop()


def fill_hours(backend: Backend, first: int, last: int, now: float) -> None:
    """Hourly rows for stores ``first``..``last - 1`` over the last 90 days, and
    one time to act per store-hour, written straight into the tables."""
    today = now - now % 86400
    days = [today - d * 86400 for d in range(DAYS)]
    hours = [day + h * 3600 for day in days for h in OPEN_HOURS]
    n = len(OPEN_HOURS)
    per_day = (5 * n, 2 * n, 4 * n, 4 * n, n, n, 420.0 * n, 600 * n, 840 * n)

    @functools.lru_cache(maxsize=2)
    def acts(i):  # the same times to act for store i in both tables
        rng = random.Random(i)
        return [round(rng.uniform(5, 240), 1) for _ in hours]
    if backend.url:
        import psycopg
        with psycopg.connect(backend.url) as conn, conn.cursor() as cur:
            with cur.copy("COPY store_hours (store, hour, made, made_murdoch, taken, resolved, expired, "
                          "pain_episodes, pain_seconds, reach_murdoch, reach_all) FROM STDIN") as copy:
                for i in range(first, last):
                    for hour in hours:
                        copy.write_row((f"store-{i:05d}", hour, 5, 2, 4, 4, 1, 1, 420.0, 600, 840))
            with cur.copy("COPY store_days (store, day, made, made_murdoch, taken, resolved, expired, "
                          "pain_episodes, pain_seconds, reach_murdoch, reach_all) FROM STDIN") as copy:
                for i in range(first, last):
                    for day in days:
                        copy.write_row((f"store-{i:05d}", day, *per_day))
            with cur.copy("COPY store_durations (store, hour, kind, seconds) FROM STDIN") as copy:
                for i in range(first, last):
                    for hour, value in zip(hours, acts(i)):
                        copy.write_row((f"store-{i:05d}", hour, "act", value))
            with cur.copy("COPY store_day_durations (store, kind, day, seconds) FROM STDIN") as copy:
                for i in range(first, last):
                    values = acts(i)
                    for d, day in enumerate(days):
                        copy.write_row((f"store-{i:05d}", "act", day, pack(values[d * n:(d + 1) * n])))
            cur.execute("ANALYZE")
    else:
        import sqlite3
        conn = sqlite3.connect(backend.folder / "hq.db")
        with conn:
            conn.executemany("INSERT INTO store_hours VALUES (?, ?, 5, 2, 4, 4, 1, 1, 420.0, 600, 840)",
                             ((f"store-{i:05d}", hour) for i in range(first, last) for hour in hours))
            conn.executemany("INSERT INTO store_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             ((f"store-{i:05d}", day, *per_day) for i in range(first, last) for day in days))
            conn.executemany("INSERT INTO store_durations VALUES (?, ?, 'act', ?)",
                             ((f"store-{i:05d}", hour, value)
                              for i in range(first, last) for hour, value in zip(hours, acts(i))))
            conn.executemany("INSERT INTO store_day_durations VALUES (?, 'act', ?, ?)",
                             ((f"store-{i:05d}", day, pack(acts(i)[d * n:(d + 1) * n]))
                              for i in range(first, last) for d, day in enumerate(days)))
        conn.execute("ANALYZE")
        conn.close()


def bench_dashboard(backend: Backend, sizes: list[int], repeats: int = 7) -> None:
    import requests
    done = 0
    now = time.time()
    backend.office().close()  # the tables
    for stores in sizes:
        started = time.perf_counter()
        fill_hours(backend, done, stores, now)
        done = stores
        fill_s = time.perf_counter() - started
        backend.prepare(stores)
        base = backend.start()
        try:
            admin = {"Authorization": "Bearer hq_admin"}
            answer = requests.get(base + "/hq/v1/stores?days=90", headers=admin, timeout=600)
            assert answer.status_code == 200 and len(answer.json()["stores"]) == stores, answer.text[:300]
            assert answer.json()["stores"][0]["figures"]["median_time_to_act_s"] is not None
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                requests.get(base + "/hq/v1/stores?days=90", headers=admin, timeout=600).raise_for_status()
                times.append(time.perf_counter() - t)
            office = backend.office()
            floors = []
            with office.engine.connect() as conn:
                for _ in range(repeats):
                    t = time.perf_counter()
                    conn.execute(select(func.count()).select_from(store_hours)
                                 .where(store_hours.c.hour >= now - DAYS * 86400)).scalar()
                    floors.append(time.perf_counter() - t)
            office.close()
            rows = stores * DAYS * len(OPEN_HOURS)
            print(f"  {backend.name}, /hq/v1/stores?days=90 at {stores} stores ({rows:,} hourly rows + "
                  f"{rows:,} times to act; {len(answer.content) / 1e6:.1f} MB answer; loaded in {fill_s:.0f} s): "
                  f"p50 {percentile(times, 50):.2f} s, p95 {percentile(times, 95):.2f} s | floor (count(*) "
                  f"of the rows): p50 {percentile(floors, 50):.2f} s")
        finally:
            backend.stop()


def bench_publish(folder: Path, rows: int) -> None:
    csv1, csv2 = folder / "v1.csv", folder / "v2.csv"
    write_csv(csv1, rows)
    # Version 2: 1 % of customers' follower counts change.
    with open(csv1) as a, open(csv2, "w") as b:
        for n, line in enumerate(a):
            if n and n % 100 == 0:
                parts = line.split(",")
                parts[2] = str(int(parts[2]) + 1)
                line = ",".join(parts)
            b.write(line)
    t = time.perf_counter()
    key = KEY.encode()
    with open(csv1) as f:
        next(f)
        for line in f:
            hmac.new(key, b"email:" + line.split(",", 2)[1].lower().encode(), hashlib.sha256).digest()
    floor = time.perf_counter() - t
    office = HeadOffice(folder / "hq", KEY, default_region="NO")
    timings = []
    for path in (csv1, csv2):
        t = time.perf_counter()
        with open(path, encoding="utf-8") as f:
            result = office.import_csv(f)
        timings.append((time.perf_counter() - t, result))
    latest = office.latest()
    delta = next(p for p in office.feed_dir.glob("delta-*.tsv"))
    office.close()
    (first, r1), (second, r2) = timings
    print(f"  publish {rows:,} rows: version 1 (import + snapshot, {latest['bytes'] / 1e6:.0f} MB) {first:.0f} s "
          f"({rows / first:,.0f} rows/s); version 2 (import + snapshot + delta of "
          f"{r2['delta']['upserts']:,} upserts, {delta.stat().st_size / 1e6:.1f} MB) {second:.0f} s | floor "
          f"(read the CSV and HMAC each identifier): {floor:.0f} s (ratio {first / floor:.1f})")
    print(f"  → 20,000,000 rows by linear scaling (import is one pass, the snapshot one sort): version 1 about "
          f"{first * 20e6 / rows / 60:.0f} min, each later version about {second * 20e6 / rows / 60:.0f} min, "
          f"snapshot about {latest['bytes'] * 20e6 / rows / 1e9:.1f} GB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", default="500,5000")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--compress", type=float, default=10, help="the second paced run's rate; 1: none")
    parser.add_argument("--no-sustained", dest="sustained", action="store_false",
                        help="skip the closed-loop run")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--only", default="traffic,dashboard,publish")
    parser.add_argument("--backends", default="sqlite,pg1,pg2",
                        help="which head offices: sqlite, pg1 (PostgreSQL, 1 process), pg2 (2 workers)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.stores.split(",")]
    only = set(args.only.split(","))
    print(f"posplugin head office at chain scale ({os.cpu_count()} cores, shared; loopback)")
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        tmp = Path(tmp)
        cluster = PostgresCluster(durable=True).start() if only & {"traffic", "dashboard"} else None
        try:
            chosen = set(args.backends.split(","))
            backends = [b for b in (("SQLite, 1 process", "", 1), ("PostgreSQL, 1 process", "pg1", 1),
                                    ("PostgreSQL, 2 workers", "pg2", 2)) if (b[1] or "sqlite") in chosen]
            if "traffic" in only:
                print("1-2. the chain's traffic")
                for stores in sizes:
                    for name, db, workers in backends:
                        url = cluster.create_database(f"traffic_{db}_{stores}") if db else ""
                        bench_traffic(Backend(name, tmp / f"traffic-{db or 'sqlite'}-{stores}", url, workers),
                                      stores, args.seconds, args.compress, args.sustained)
            if "dashboard" in only:
                print("3. the dashboard")
                for name, db, workers in backends[:2]:
                    url = cluster.create_database(f"dashboard_{db}") if db else ""
                    bench_dashboard(Backend(name, tmp / f"dashboard-{db or 'sqlite'}", url, workers), sizes)
        finally:
            if cluster:
                cluster.stop()
        if "publish" in only:
            print("4. publishing")
            bench_publish(tmp, args.rows)


if __name__ == "__main__":
    main()
