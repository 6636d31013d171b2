"""Queue figures, each beside a floor measured in the same run.

1. Readings handled per second in-process (Store.queue_reading: history row,
   lane state, detection) vs a bare loop that only inserts the history row.
2. Readings per second over real HTTP (load from a separate process) vs a bare
   endpoint on the same server.
3. Baseline computation for one lane with 8 weeks of minute readings (uncached)
   vs reading the same rows with a plain SELECT.

Run: python benchmarks/bench_queues.py
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posplugin.config import Settings  # noqa: E402
from posplugin.store import auth, baseline  # noqa: E402
from posplugin.store.service import Store  # noqa: E402

KEY = "benchmark-identifier-key-0123456789"

CLIENT = r"""
import json, sys, threading, time
import requests
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
count = [0] * 4
stop = time.perf_counter() + seconds
def worker(k):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    i = 0
    while time.perf_counter() < stop:
        r = s.post(url, json={"lane": str(k + 1), "length": i % 7})
        assert r.status_code == 200, r.text
        i += 1
        count[k] += 1
threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(sum(count) / seconds))
"""


def in_process(store: Store, n: int = 20_000) -> None:
    t = time.perf_counter()
    for i in range(n):
        store.queues.reading(str(i % 4 + 1), i % 7)
    ours = n / (time.perf_counter() - t)
    conn = sqlite3.connect(store.settings.db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    t = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO queue_history (lane, at, slot, length) VALUES (?, ?, ?, ?)",
                     (str(i % 4 + 1), time.time(), 0, i % 7))
        conn.execute("COMMIT")
    floor = n / (time.perf_counter() - t)
    print(f"in-process readings: {ours:,.0f}/s | floor (one INSERT + COMMIT each): {floor:,.0f}/s "
          f"| ratio {ours / floor:.2f}")


def over_http(store: Store, seconds: float = 5.0) -> None:
    from flask import jsonify, request

    from posplugin.store.web.app import create_app
    from posplugin.web.server import BackgroundServer

    with store.db.write() as conn:
        token = auth.create_token(conn, "queue", "bench")
    app = create_app(store=store)

    @app.post("/bare")
    def bare():
        return jsonify({"lane": request.get_json()["lane"]})

    server = BackgroundServer(app, threads=store.settings.threads).start()

    def load(path):
        out = subprocess.run([sys.executable, "-c", CLIENT, server.url + path, token, str(seconds)],
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        return json.loads(out.stdout)

    ours, floor = load("/api/v1/queue"), load("/bare")
    print(f"HTTP readings: {ours:,.0f}/s | bare endpoint: {floor:,.0f}/s | ratio {ours / floor:.2f}")
    server.stop()


def baseline_8_weeks(store: Store) -> None:
    now = store.clock()
    lines = ["lane,at,length"]
    for minute in range(8 * 7 * 24 * 60):
        lines.append(f"9,{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - 60 - minute * 60))},"
                     f"{minute % 11}")
    t = time.perf_counter()
    store.queues.import_csv(io.StringIO("\n".join(lines) + "\n"))
    load_s = time.perf_counter() - t
    slot = baseline.slot(now, store.settings.tz())
    runs = 20
    t = time.perf_counter()
    for _ in range(runs):
        value, source = baseline.normal_for(store.db.conn, "9", slot, now, weeks=8, min_samples=12,
                                            default=3)
    ours = (time.perf_counter() - t) / runs
    t = time.perf_counter()
    for _ in range(runs):
        store.db.conn.execute("SELECT length FROM queue_history WHERE lane = ? AND slot = ?",
                              ("9", slot)).fetchall()
    floor = (time.perf_counter() - t) / runs
    print(f"baseline, 8 weeks of minute readings ({len(lines) - 1:,} rows, loaded in {load_s:.1f} s): "
          f"{ours * 1e3:.2f} ms (source {source}) | floor (plain indexed SELECT of the slot): "
          f"{floor * 1e3:.2f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="posplugin-bench-") as tmp:
        store = Store(Settings(data_dir=Path(tmp), id_key=KEY, rate_limit_per_s=0))
        in_process(store)
        over_http(store)
        baseline_8_weeks(store)
        store.close()


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description=__doc__.split("\n")[0],
                            epilog="Prints each figure beside its floor measured in the same run.").parse_args()
    main()
