"""Identify path figures, each beside a floor measured in the same run.

1. Tier import of N email rows (rows/s, peak RSS) vs a bare loop that only
   hashes and inserts with plain sqlite3.
2. In-process identify vs a bare HMAC + indexed SELECT on the same list.
3. Identify over real HTTP on loopback (the front door), load from a separate
   process: p50/p99 at a steady 100 requests/s, and peak throughput, vs a bare
   endpoint on the same server. Two traffic mixes: "store" (3 in 5 customers
   not on the list) and "listed" (every customer on the list, most of them
   new prompts, each a synchronous commit). Then the server's memory after
   those requests beside its memory after warm-up, and the SQLite files open
   (bounded by the worker threads, whatever the load).

Run: python benchmarks/bench_identify.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEY = "benchmark-identifier-key-0123456789"


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("identifier_type,identifier,followers,engagement_rate,niches,consent\n")
        for i in range(rows):
            # Followers log-uniform from 100 to 3 million, engagement 0-9%: every
            # tier and service level occurs.
            followers = int(10 ** (2 + 4.5 * ((i * 7919) % 10007) / 10007))
            f.write(f"email,Customer{i}@Example.com,{followers},{(i % 90) / 1000:.3f},"
                    f"running;coffee,yes\n")


def measure_in_child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter so peak RSS is that step's alone."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# Peak memory of a measured child process. VmHWM, not ru_maxrss: on Linux
# ru_maxrss carries the forking parent's peak across exec, which would charge
# the child with the benchmark's own memory.
PEAK_MB = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

IMPORT_CODE = """
import io, json, sys, time
{peak}from pathlib import Path
from posplugin.config import Settings
from posplugin.store.service import Store
from posplugin.tiers.csvfile import open_csv
from posplugin.tiers.lists import import_csv
s = Settings(data_dir=Path({data!r}), id_key={key!r})
store = Store(s)
t = time.perf_counter()
with open_csv({csv!r}) as f:
    result = import_csv(store.tiers, f, store.hasher)
elapsed = time.perf_counter() - t
print(json.dumps({{"rows": result.rows, "seconds": elapsed,
                  "peak_rss_mb": peak_mb()}}))
"""

BARE_IMPORT_CODE = """
import csv, hashlib, hmac, json, sqlite3, time
{peak}key = {key!r}.encode()
conn = sqlite3.connect({db!r}, isolation_level=None)
conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                   "CREATE TABLE t (hash BLOB PRIMARY KEY, followers INT, rate REAL, niches TEXT) WITHOUT ROWID")
t = time.perf_counter()
conn.execute("BEGIN")
batch = []
with open({csv!r}, newline="") as f:
    r = csv.reader(f); next(r)
    for row in r:
        h = hmac.new(key, ("email:" + row[1].strip().casefold()).encode(), hashlib.sha256).digest()
        batch.append((h, int(row[2]), float(row[3]), row[4]))
        if len(batch) >= 5000:
            conn.executemany("INSERT OR REPLACE INTO t VALUES (?,?,?,?)", batch); batch.clear()
conn.executemany("INSERT OR REPLACE INTO t VALUES (?,?,?,?)", batch)
conn.execute("COMMIT")
elapsed = time.perf_counter() - t
print(json.dumps({{"seconds": elapsed,
                  "peak_rss_mb": peak_mb()}}))
"""


def bench_import(work: Path, rows: int) -> Path:
    csv_path = work / "tiers.csv"
    write_csv(csv_path, rows)
    data = work / "store"
    ours = measure_in_child(IMPORT_CODE.format(data=str(data), key=KEY, csv=str(csv_path), peak=PEAK_MB))
    bare = measure_in_child(BARE_IMPORT_CODE.format(db=str(work / "bare.db"), key=KEY, csv=str(csv_path), peak=PEAK_MB))
    print(f"import {rows:,} email rows: {rows / ours['seconds']:,.0f} rows/s, peak RSS "
          f"{ours['peak_rss_mb']:.0f} MB | floor (hash + insert, plain sqlite3): "
          f"{rows / bare['seconds']:,.0f} rows/s, peak RSS {bare['peak_rss_mb']:.0f} MB "
          f"| ratio {bare['seconds'] / ours['seconds']:.2f}")
    return data


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def bench_in_process(data: Path, rows: int, n: int = 20_000) -> None:
    """Three kinds of identify, each against the same floor: customers not on the
    list, customers on it whose prompt already exists (same lane within 30
    minutes: the common case for a returning influencer), and new prompts."""
    from posplugin.config import Settings
    from posplugin.store.service import Store

    store = Store(Settings(data_dir=data, id_key=KEY))
    key = KEY.encode()
    conn = sqlite3.connect(str(store.tiers.current_file()))

    def floor(emails):
        t = time.perf_counter()
        for email in emails:
            h = hmac.new(key, ("email:" + email.strip().casefold()).encode(), hashlib.sha256).digest()
            conn.execute("SELECT followers, engagement_rate, niches FROM tiers WHERE hash = ?",
                         (h,)).fetchone()
        return (time.perf_counter() - t) / len(emails)

    def ours(emails):
        t = time.perf_counter()
        for i, email in enumerate(emails):
            store.identify(str(i % 8), "email", email)
        return (time.perf_counter() - t) / len(emails)

    unknown = [f"stranger{i}@example.com" for i in range(n)]
    known = [f"customer{(i * 104729) % rows}@example.com" for i in range(n // 10)]
    ours(known[:10] + unknown[:10])  # warm up connections and the visit writer
    cases = [("not on the list", unknown, unknown),
             ("new prompt", known, known),
             ("on the list, prompt already made", known, known)]
    for label, emails, floor_emails in cases:
        a, b = ours(emails), floor(floor_emails)
        print(f"in-process identify, {label}: {a * 1e6:.1f} µs/call | floor (HMAC + indexed "
              f"SELECT): {b * 1e6:.1f} µs | ratio {a / b:.2f}")
    # The same with a holdout experiment running: one more keyed hash per identify.
    from posplugin.store import experiment
    with store.db.write() as c:
        experiment.apply_manifest(c, {"experiment": "bench", "holdout_share": 0.2}, store.clock())
    store.holdout.forget()
    for label, emails in (("not on the list", unknown), ("on the list, prompt already made", known)):
        a, b = ours(emails), floor(emails)
        print(f"in-process identify, {label}, experiment running: {a * 1e6:.1f} µs/call | floor: "
              f"{b * 1e6:.1f} µs | ratio {a / b:.2f}")
    store.close()


# Prepended to the load scripts below (each runs with ``python -c``).
PACED = r"""
import time as _time

def paced(rate, count):
    # 0, 1, ... count-1 at a steady rate per second, as tills send: a slow
    # answer delays the next request but does not shift the schedule.
    start = _time.perf_counter()
    for i in range(count):
        delay = start + i / rate - _time.perf_counter()
        if delay > 0:
            _time.sleep(delay)
        yield i
"""


CLIENT_CODE = PACED + r"""
import json, sys, threading, time
import requests
url, path, token, rows, mode, mix, rate, seconds, clients = sys.argv[1:10]
rows, rate, seconds, clients = int(rows), float(rate), float(seconds), int(clients)
headers = {"Authorization": f"Bearer {token}"}

def body(i):
    # "store": 3 in 5 customers are not on the list (everyday shoppers); the
    # rest are spread over the list, so some are new prompts and some repeat.
    # "listed": every customer is on the list and most are new prompts.
    listed = mix == "listed" or i % 5 >= 3
    value = f"customer{(i * 104729) % rows}@example.com" if listed else f"shopper{i}@example.net"
    return {"lane": str(i % 8), "identifier": {"type": "email", "value": value}}

if mode == "steady":
    s = requests.Session()
    lat = []
    for i in paced(rate, int(rate * seconds)):
        t = time.perf_counter()
        r = s.post(url + path, json=body(i), headers=headers)
        lat.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
    print(json.dumps(lat))
else:
    count = [0] * clients
    stop = time.perf_counter() + seconds
    def worker(k):
        s = requests.Session()
        i = k
        while time.perf_counter() < stop:
            s.post(url + path, json=body(i), headers=headers)
            i += clients
            count[k] += 1
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps(sum(count) / seconds))
"""


def run_client(url, path, token, rows, mode, mix="store", rate=100.0, seconds=10.0, clients=4):
    """Load from a separate process, as a till would be: the client does not
    share the server's interpreter lock."""
    out = subprocess.run([sys.executable, "-c", CLIENT_CODE, url, path, token, str(rows), mode, mix,
                          str(rate), str(seconds), str(clients)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def bench_http(data: Path, rows: int, rate: float = 100.0, seconds: float = 10.0,
               burst_s: float = 5.0) -> None:
    from flask import jsonify, request

    from posplugin.config import Settings
    from posplugin.store import auth
    from posplugin.store.service import Store
    from posplugin.store.web.app import create_app
    from posplugin.web.server import BackgroundServer

    store = Store(Settings(data_dir=data, id_key=KEY, rate_limit_per_s=0))
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", "bench")
    app = create_app(store=store)

    @app.post("/bare")
    def bare():  # the floor: same server, same JSON in and out, no work
        return jsonify({"lane": request.get_json()["lane"]})

    server = BackgroundServer(app, threads=store.settings.threads).start()
    run_client(server.url, "/bare", token, rows, "steady", rate=rate, seconds=1)  # warm up
    warm_mb, _ = serving_memory()
    for mix in ("store", "listed"):
        ours = run_client(server.url, "/api/v1/identify", token, rows, "steady", mix, rate, seconds)
        floor = run_client(server.url, "/bare", token, rows, "steady", mix, rate, seconds)
        print(f"HTTP identify at {rate:.0f} req/s, {mix} mix: p50 {percentile(ours, 50) * 1e3:.2f} ms, "
              f"p99 {percentile(ours, 99) * 1e3:.2f} ms | bare endpoint: p50 "
              f"{percentile(floor, 50) * 1e3:.2f} ms, p99 {percentile(floor, 99) * 1e3:.2f} ms")
    for mix in ("store", "listed"):
        ours_peak = run_client(server.url, "/api/v1/identify", token, rows, "peak", mix, seconds=burst_s)
        floor_peak = run_client(server.url, "/bare", token, rows, "peak", mix, seconds=burst_s)
        print(f"HTTP identify peak, {mix} mix: {ours_peak:,.0f} req/s | bare endpoint: "
              f"{floor_peak:,.0f} req/s | ratio {ours_peak / floor_peak:.2f}")
    end_mb, files = serving_memory()
    print(f"serving memory: {end_mb:.0f} MB after {4 * int(rate * seconds):,} paced requests and the peak runs "
          f"| after warm-up: {warm_mb:.0f} MB | open database files: {files} "
          f"(threads setting: {store.settings.threads})")
    server.stop()
    store.close()


def serving_memory() -> tuple[float, int]:
    """This process's resident memory (MB; Linux) and how many SQLite files it holds open."""
    rss = next(int(line.split()[1]) / 1024 for line in open("/proc/self/status") if line.startswith("VmRSS:"))
    files = sum(1 for fd in os.listdir("/proc/self/fd")
                if os.path.realpath(f"/proc/self/fd/{fd}").endswith(".db"))
    return rss, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="steady-rate phase length")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="posplugin-bench-") as tmp:
        data = bench_import(Path(tmp), args.rows)
        bench_in_process(data, args.rows)
        bench_http(data, args.rows, seconds=args.seconds)


if __name__ == "__main__":
    main()
