"""The till's path beside what an integrator would hand-roll, in one run.

The peer (peer_identify.py, started here): Flask on waitress, HMAC-SHA256 of
the email, one indexed SELECT in a SQLite table of the same rows, a JSON
answer. posplugin runs as a real ``posplugin serve`` (its own process, its
default settings) with a bare endpoint loaded as a hook (the floor: same
server, same app, no work). Load comes from wrk in a process of its own.

1. ``posplugin tiers import`` of N rows (rows/s, peak memory) beside a plain
   ``executemany`` of the same hashed rows.
2. In-process identify beside a bare HMAC + indexed SELECT on the same list.
3. Over HTTP, each mix against the peer in the same round (rounds
   interleaved): "everyday" (9 in 10 customers not on the list) and "listed"
   (every customer on the list; 3 in 4 of them get a prompt):
   peak req/s (wrk, 32 connections) and p50/p99 at a paced 100 req/s, with
   the paced p99 of the peer run with ``--records`` (it also writes a prompt
   and a visit in one commit before answering, as posplugin must).
4. Queue readings at peak beside the bare endpoint.
5. Serve's memory after 5,000 requests beside the peer's, after 50,000, and
   with 100 streams open; identify p99 with 100 busy streams beside none.
6. Slow clients: identify p99 with 300 slow request heads and 100 stalled
   bodies open (from another address, reconnecting when closed) beside idle.

Every figure is printed beside its peer or floor and the load average.
``--quick`` (a 100,000-row list, one short round) runs in under a minute, to
check a change on the hot path before it is committed.

Run: python benchmarks/bench_identify.py [--quick] [--rows N] [--rounds N]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402
from loadgen import load_average  # noqa: E402

KEY = "benchmark-identifier-key-0123456789"
TILLS = 32  # one token per till; wrk's connections use them in turn


def write_csv(path: Path, rows: int) -> None:
    """A tier list of ``rows`` customers ``customer{k}@example.com``: three in
    four at priority or Murdoch level (a prompt at the till), the fourth
    standard; every tier occurs."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("identifier_type,identifier,followers,engagement_rate,niches,consent\n")
        for k in range(rows):
            if k % 4 == 3:
                followers, rate = 100 + (k * 7919) % 1900, 0.010
            else:
                followers = int(3000 * 10 ** (3 * ((k * 7919) % 10007) / 10007))
                rate = (20 + k % 70) / 1000
            f.write(f"email,Customer{k}@Example.com,{followers},{rate:.3f},running;coffee,yes\n")


# Peak memory of a measured child process. VmHWM, not ru_maxrss: on Linux
# ru_maxrss carries the forking parent's peak across exec, which would charge
# the child with the benchmark's own memory.
PEAK_MB = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

# The real command, as a store runs it.
IMPORT_CODE = """
import json, os, sys, time
{peak}from posplugin.cli import main
os.environ["POSPLUGIN_ID_KEY"] = {key!r}
t = time.perf_counter()
code = main(["tiers", "import", {csv!r}, "--data", {data!r}])
elapsed = time.perf_counter() - t
assert code == 0
print(json.dumps({{"seconds": elapsed, "peak_rss_mb": peak_mb()}}))
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
print(json.dumps({{"seconds": elapsed, "peak_rss_mb": peak_mb()}}))
"""


# For the other benchmarks' Python load scripts (each runs with ``python -c``).
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


def measure_in_child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter so peak memory is that step's alone."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_import(work: Path, rows: int, rounds: int) -> tuple[Path, Path]:
    """``posplugin tiers import`` beside a plain executemany, ``rounds`` times
    each in the order plain, ours, ours, plain, ...; returns the store's data
    folder and the plain table's file (the peer's)."""
    csv_path = work / "tiers.csv"
    write_csv(csv_path, rows)
    data, bare_db = work / "store", work / "peer.db"
    pairs = []
    for r in range(rounds):
        steps = ("bare", "ours") if r % 2 == 0 else ("ours", "bare")
        got = {}
        for step in steps:
            if step == "bare":
                bare_db.unlink(missing_ok=True)
                got[step] = measure_in_child(BARE_IMPORT_CODE.format(db=str(bare_db), key=KEY, csv=str(csv_path),
                                                                     peak=PEAK_MB))
            else:
                got[step] = measure_in_child(IMPORT_CODE.format(data=str(data), key=KEY, csv=str(csv_path),
                                                                peak=PEAK_MB))
        ours, bare = got["ours"], got["bare"]
        pairs.append((ours, bare))
        print(f"  round {r + 1}, tiers import, {rows:,} rows: {rows / ours['seconds']:,.0f} rows/s, peak "
              f"{ours['peak_rss_mb']:.0f} MB | plain executemany: {rows / bare['seconds']:,.0f} rows/s, peak "
              f"{bare['peak_rss_mb']:.0f} MB | speed {bare['seconds'] / ours['seconds']:.2f}x | load {load_average()}",
              flush=True)
    ratios = [b["seconds"] / o["seconds"] for o, b in pairs]
    print(f"tiers import, {rows:,} rows: {_range(rows / o['seconds'] for o, _ in pairs)} rows/s, peak "
          f"{max(o['peak_rss_mb'] for o, _ in pairs):.0f} MB | plain executemany: "
          f"{_range(rows / b['seconds'] for _, b in pairs)} rows/s, peak {max(b['peak_rss_mb'] for _, b in pairs):.0f}"
          f" MB | speed {min(ratios):.2f}-{max(ratios):.2f}x (target >= 0.9; peak <= 64 MB)", flush=True)
    return data, bare_db


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
    # Customers whose level makes a prompt (k % 4 != 3), a different one each time.
    known = [f"customer{k}@example.com" for k in ((i * 104729) % rows for i in range(n // 5)) if k % 4 != 3]
    ours(known[:10] + unknown[:10])  # warm up connections and the visit writer
    cases = [("not on the list", unknown), ("new prompt", known[10:]),
             ("on the list, prompt already made", known[10:])]
    for label, emails in cases:
        a, b = ours(emails), floor(emails)
        print(f"in-process identify, {label}: {a * 1e6:.1f} µs/call | floor (HMAC + indexed "
              f"SELECT): {b * 1e6:.1f} µs | ratio {a / b:.2f}", flush=True)
    store.close()


def make_tokens(data: Path) -> dict[str, list[str]]:
    from posplugin.store import auth
    from posplugin.store.schema import open_database

    db = open_database(data / "posplugin.db")
    # As many counters as tills: each token's rate limit (200/s) would cap
    # eight counters' readings below what the server answers.
    with db.write() as conn:
        tokens = {"till": [auth.create_token(conn, "till", f"till-{i}") for i in range(TILLS)],
                  "queue": [auth.create_token(conn, "queue", f"counter-{i}") for i in range(TILLS)],
                  "staff": [auth.create_token(conn, "staff", "tablets")]}
    db.close()
    return tokens


class Run:
    """The HTTP part: our serve, the peer and the recording peer, all running for the whole run."""

    def __init__(self, work: Path, data: Path, peer_db: Path, rows: int):
        self.work, self.rows = work, rows
        self.tokens = make_tokens(data)
        # Streams: 100 tablets on one staff token (the per-token limit raised
        # for that, not the total).
        self.ours, port = loadgen.start_serve(data, KEY, max_streams_per_token=120)
        self.ours_port = port
        self.peer, peer_port = loadgen.start_peer(peer_db, KEY)
        # The peer that also records a prompt before answering: what recording costs alone.
        self.recorder, recorder_port = loadgen.start_peer(peer_db, KEY, records=True)
        self.urls = {who: f"http://127.0.0.1:{p}"
                     for who, p in (("ours", port), ("peer", peer_port), ("recorder", recorder_port))}
        self.offset = 0
        self.sent = dict.fromkeys(self.urls, 0)

    def load(self, who: str, kind: str, path: str = "/api/v1/identify", **options) -> dict:
        url = self.urls[who]
        tokens = self.tokens["queue"] if kind == "queue" else self.tokens["till"]
        result = loadgen.wrk(self.work, url, path, kind, tokens, rows=self.rows, offset=self.offset, **options)
        self.offset += result["requests"] + 1000
        self.sent[who] += result["requests"]
        return result

    def close(self) -> None:
        for proc in (self.ours, self.peer, self.recorder):
            loadgen.stop(proc)


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def bench_memory_start(run: Run) -> dict:
    """5,000 requests to each fresh server, then its memory."""
    for who in ("ours", "peer"):
        run.load(who, "everyday", connections=8, limit=5000)
    figures = {"ours": loadgen.rss_mb(run.ours.pid), "peer": loadgen.rss_mb(run.peer.pid)}
    print(f"memory after 5,000 requests: serve {figures['ours']:.1f} MB | peer {figures['peer']:.1f} MB | "
          f"ratio {figures['ours'] / figures['peer']:.2f} (target <= 2) | load {load_average()}", flush=True)
    return figures


def bench_peaks(run: Run, rounds: int, seconds: float) -> None:
    """Peak req/s of identify against the peer, and of queue readings and the
    bare endpoint, rounds interleaved (the order alternates)."""
    results: dict[str, list[tuple[float, float]]] = {"everyday": [], "listed": [], "queue": []}
    for r in range(rounds):
        for mix in ("everyday", "listed"):
            order = ("ours", "peer") if r % 2 == 0 else ("peer", "ours")
            got = {who: run.load(who, mix, seconds=seconds)["rate"] for who in order}
            results[mix].append((got["ours"], got["peer"]))
            print(f"  round {r + 1}, {mix} mix: identify {got['ours']:,.0f} req/s | peer {got['peer']:,.0f} "
                  f"req/s | ratio {got['ours'] / got['peer']:.2f} | load {load_average()}", flush=True)
        queue = run.load("ours", "queue", "/api/v1/queue", seconds=seconds)["rate"]
        bare = run.load("ours", "everyday", "/hooks/bare", seconds=seconds)["rate"]
        results["queue"].append((queue, bare))
        print(f"  round {r + 1}, queue readings {queue:,.0f} req/s | bare endpoint {bare:,.0f} req/s | "
              f"ratio {queue / bare:.2f} | load {load_average()}", flush=True)
    for mix, target in (("everyday", 1.0), ("listed", 0.8)):
        ratios = [a / b for a, b in results[mix]]
        print(f"peak identify, {mix} mix: {_range(a for a, _ in results[mix])} req/s | peer "
              f"{_range(b for _, b in results[mix])} req/s | ratio {min(ratios):.2f}-{max(ratios):.2f} "
              f"(target >= {target})", flush=True)
    ratios = [a / b for a, b in results["queue"]]
    print(f"peak queue readings: {_range(a for a, _ in results['queue'])} req/s | bare endpoint "
          f"{_range(b for _, b in results['queue'])} req/s | ratio {min(ratios):.2f}-{max(ratios):.2f} "
          f"(target >= 0.7)", flush=True)


def _range(values, spec: str = ",.0f") -> str:
    values = list(values)
    low, high = format(min(values), spec), format(max(values), spec)
    return f"{low}-{high}" if len(values) > 1 else low


def paced(run: Run, who: str, mix: str, requests: int, path: str = "/api/v1/identify") -> dict:
    return run.load(who, mix, path, connections=4, rate=100, limit=requests)


def bench_paced(run: Run, rounds: int, requests: int) -> None:
    """p99 at a steady 100 req/s, against the peer, rounds interleaved; beside
    them the bare endpoint on our server (what the server itself adds) and the
    peer that records a prompt before answering (what recording alone adds)."""
    bare, everyday = [], []
    for mix in ("everyday", "listed"):
        rows = everyday if mix == "everyday" else []
        for r in range(rounds):
            order = ("ours", "peer", "recorder") if r % 2 == 0 else ("recorder", "peer", "ours")
            got = {who: paced(run, who, mix, requests) for who in order}
            rows.append(got)
            if mix == "everyday":
                bare.append(paced(run, "ours", mix, requests, "/hooks/bare"))
            print(f"  round {r + 1}, {mix} mix at 100 req/s: identify p50 {ms(got['ours']['p50_us'])}, p99 "
                  f"{ms(got['ours']['p99_us'])} | peer p50 {ms(got['peer']['p50_us'])}, p99 "
                  f"{ms(got['peer']['p99_us'])} | p99 ratio {got['ours']['p99_us'] / got['peer']['p99_us']:.2f}"
                  f" | recording peer p99 {ms(got['recorder']['p99_us'])}"
                  + (f" | bare endpoint p50 {ms(bare[-1]['p50_us'])}, p99 {ms(bare[-1]['p99_us'])}"
                     if mix == "everyday" else "") + f" | load {load_average()}", flush=True)
        ratios = [g["ours"]["p99_us"] / g["peer"]["p99_us"] for g in rows]
        print(f"paced 100 req/s, {mix} mix: identify p99 {_range((g['ours']['p99_us'] / 1000 for g in rows), '.2f')} ms"
              f" | peer p99 {_range((g['peer']['p99_us'] / 1000 for g in rows), '.2f')} ms | ratio "
              f"{min(ratios):.2f}-{max(ratios):.2f} (target <= 1.2)", flush=True)
        ratios = [g["recorder"]["p99_us"] / g["peer"]["p99_us"] for g in rows]
        print(f"paced 100 req/s, {mix} mix: the peer recording each prompt before answering, p99 "
              f"{_range((g['recorder']['p99_us'] / 1000 for g in rows), '.2f')} ms | ratio to the peer "
              f"{min(ratios):.2f}-{max(ratios):.2f}", flush=True)
    ratios = [b["p99_us"] / g["peer"]["p99_us"] for b, g in zip(bare, everyday)]
    print(f"paced 100 req/s, bare endpoint on our server: p99 {_range((b['p99_us'] / 1000 for b in bare), '.2f')}"
          f" ms | ratio to the peer's identify p99 in the same everyday round: {min(ratios):.2f}-{max(ratios):.2f}",
          flush=True)


def bench_streams_and_memory(run: Run, requests: int, memory_start: dict) -> None:
    """Memory after 50,000 requests; identify p99 with 100 busy streams open
    beside the same server without them; memory with the streams."""
    top_up = 50_000 - run.sent["ours"]
    if top_up > 0:
        run.load("ours", "everyday", connections=8, limit=top_up)
    at_50k = loadgen.rss_mb(run.ours.pid)
    print(f"memory after {run.sent['ours']:,} requests: serve {at_50k:.1f} MB | after 5,000: "
          f"{memory_start['ours']:.1f} MB | change {100 * (at_50k / memory_start['ours'] - 1):+.1f}% "
          f"(target within ±10%) | load {load_average()}", flush=True)
    quiet = paced(run, "ours", "everyday", requests)
    listeners = loadgen.Background(loadgen.LISTENERS, "127.0.0.1", run.ours_port, run.tokens["staff"][0], 100, 0)
    try:
        busy = paced(run, "ours", "everyday", requests)
        with_streams = loadgen.rss_mb(run.ours.pid)
        time.sleep(0.5)  # the last events reach every tablet (a slice a millisecond) before they are counted
    finally:
        events = len(json.loads(listeners.finish() or "[]"))
    print(f"100 busy streams ({events:,} prompt events delivered): identify p50 {ms(busy['p50_us'])}, p99 "
          f"{ms(busy['p99_us'])} | without streams p50 {ms(quiet['p50_us'])}, p99 {ms(quiet['p99_us'])} | "
          f"ratio {busy['p99_us'] / quiet['p99_us']:.2f} (target <= 1.5) | load {load_average()}", flush=True)
    print(f"memory with 100 streams: serve {with_streams:.1f} MB | after 5,000 requests: "
          f"{memory_start['ours']:.1f} MB | change {100 * (with_streams / memory_start['ours'] - 1):+.1f}% "
          f"(target within ±10%)", flush=True)


def bench_slow_clients(run: Run, requests: int, heads: int = 300, bodies: int = 100) -> None:
    """Identify p99 with slow heads and stalled bodies held open beside the
    same server idle (issue 21, item 13)."""
    idle = paced(run, "ours", "everyday", requests)
    slow = loadgen.Background(loadgen.SLOW, "127.0.0.1", run.ours_port, heads, bodies, "127.0.0.2")
    try:
        time.sleep(1)
        loaded = paced(run, "ours", "everyday", requests)
    finally:
        held = slow.finish()
    print(f"{heads} slow heads + {bodies} stalled bodies from one address ({held} held open at the end): "
          f"identify p50 {ms(loaded['p50_us'])}, p99 {ms(loaded['p99_us'])} | idle p50 {ms(idle['p50_us'])}, "
          f"p99 {ms(idle['p99_us'])} | ratio {loaded['p99_us'] / idle['p99_us']:.2f} | load {load_average()}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a 100,000-row list, one 2-second round, 500 paced requests (under a minute)")
    parser.add_argument("--rows", type=int, default=None, help="tier list rows (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved peak and paced rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="each peak run (default 6)")
    parser.add_argument("--paced", type=int, default=None, help="requests per paced run at 100/s (default 1,500)")
    parser.add_argument("--only", default="import,inprocess,http",
                        help="comma-separated parts: import, inprocess, http")
    args = parser.parse_args()
    quick = args.quick
    rows = args.rows or (100_000 if quick else 1_000_000)
    rounds = args.rounds or (1 if quick else 3)
    seconds = args.seconds or (2.0 if quick else 6.0)
    requests = args.paced or (500 if quick else 1_500)
    parts = set(args.only.split(","))
    loadgen.need_wrk()
    print(f"bench_identify: {rows:,} rows, {rounds} round(s), {seconds:g} s peaks, {requests:,} paced requests;"
          f" {os.cpu_count()} cores, load {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="posplugin-bench-") as tmp:
        work = Path(tmp)
        data, peer_db = bench_import(work, rows, rounds=1 if quick else 2)
        if "inprocess" in parts and not quick:
            bench_in_process(data, rows)
        if "http" in parts:
            run = Run(work, data, peer_db, rows)
            try:
                memory = bench_memory_start(run)
                bench_peaks(run, rounds, seconds)
                bench_paced(run, rounds, requests)
                if not quick:
                    bench_streams_and_memory(run, requests, memory)
                bench_slow_clients(run, requests)
            finally:
                run.close()
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
