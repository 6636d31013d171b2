"""Head office → store sync figures, each beside a floor measured in the same run.

Head office runs as its own process (`posplugin hq serve`) on loopback, as it
would on its own machine.

1. Full sync of an N-row list end to end (manifest, download, verify, build,
   switch) in a fresh process, seconds and peak RSS | floor: downloading the
   same snapshot and hashing it, nothing else.
2. Delta sync of a version with D changed rows, seconds and peak RSS | floor:
   copying the list file (what any delta apply must at least do here).
3. Identify p99 over HTTP at 100 req/s while a full sync applies, vs idle,
   same server: with the sync in a child process (what `serve` does) and, for
   comparison, in a thread of the serving process.

Run: python benchmarks/bench_sync.py [--rows 1000000] [--changed 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_identify import (  # noqa: E402
    IMPORT_CODE,
    KEY,
    PACED,
    PEAK_MB,
    measure_in_child,
    percentile,
    write_csv,
)

SYNC_CODE = """
import json, time
{peak}from pathlib import Path
from posplugin.config import Settings
from posplugin.store.service import Store
from posplugin.store.sync import sync_once
store = Store(Settings(data_dir=Path({data!r}), id_key={key!r}, hq_url={url!r}, hq_token={token!r},
                       hq_public_key={public!r}))
t = time.perf_counter()
result = sync_once(store)
elapsed = time.perf_counter() - t
assert result.status == "updated", result.message
print(json.dumps({{"seconds": elapsed, "message": result.message,
                  "peak_rss_mb": peak_mb()}}))
"""

DOWNLOAD_CODE = """
import hashlib, json, time, requests
{peak}t = time.perf_counter()
digest = hashlib.sha256()
with requests.get({url!r}, headers={{"Authorization": "Bearer " + {token!r}}}, stream=True) as r:
    for chunk in r.iter_content(1 << 16):
        digest.update(chunk)
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_rss_mb": peak_mb()}}))
"""

CLIENT_CODE = PACED + r"""
import json, sys, time
import requests
url, token, rows, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = requests.Session()
s.headers["Authorization"] = f"Bearer {token}"
out = []
for i in paced(100, int(100 * seconds)):
    listed = i % 5 >= 3
    value = f"customer{(i * 104729) % rows}@example.com" if listed else f"shopper{i}@example.net"
    t = time.perf_counter()
    r = s.post(url + "/api/v1/identify", json={"lane": str(i % 8), "identifier": {"type": "email", "value": value}})
    out.append([time.time(), time.perf_counter() - t])
    assert r.status_code == 200, r.text
print(json.dumps(out))
"""


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "POSPLUGIN_ID_KEY": KEY}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hq_cli(data: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "posplugin", "hq", *args, "--data", str(data)], env=env(),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_head_office(work: Path, rows: int) -> tuple:
    data = work / "hq"
    csv_path = work / "v1.csv"
    write_csv(csv_path, rows)
    t = time.perf_counter()
    hq_cli(data, "import", str(csv_path))
    print(f"head office publishes {rows:,} rows as version 1: {time.perf_counter() - t:.1f} s")
    tokens = [hq_cli(data, "store", "add", f"store-{n}") for n in range(3)]
    public = hq_cli(data, "public-key")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "posplugin", "hq", "serve", "--data", str(data),
                                "--port", str(port)], env=env(), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, url, tokens, public, data


def bench_full_and_delta(work: Path, url: str, tokens: list, public: str, hq_data: Path, rows: int,
                         changed: int) -> Path:
    store = work / "store-full"
    full = measure_in_child(SYNC_CODE.format(data=str(store), key=KEY, url=url, token=tokens[0], public=public, peak=PEAK_MB))
    manifest = json.loads(subprocess.run(
        ["curl", "-s", "-H", f"Authorization: Bearer {tokens[0]}", url + "/hq/v1/feed/manifest.json"],
        capture_output=True, text=True).stdout)["manifest"]
    floor = measure_in_child(DOWNLOAD_CODE.format(url=url + "/hq/v1/feed/" + manifest["snapshot"]["path"],
                                                  token=tokens[0], peak=PEAK_MB))
    print(f"full sync of {rows:,} rows ({manifest['snapshot']['bytes'] / 1e6:.0f} MB): {full['seconds']:.1f} s, "
          f"peak RSS {full['peak_rss_mb']:.0f} MB | floor (download + SHA-256 only): {floor['seconds']:.2f} s, "
          f"peak RSS {floor['peak_rss_mb']:.0f} MB | ratio {full['seconds'] / floor['seconds']:.1f}")

    csv_path = work / "v2.csv"
    with open(work / "v1.csv", encoding="utf-8") as old, open(csv_path, "w", encoding="utf-8") as new:
        for n, line in enumerate(old):
            if 1 <= n <= changed:  # a changed follower count for `changed` customers
                cells = line.split(",")
                cells[2] = str(int(cells[2]) + 1)
                line = ",".join(cells)
            new.write(line)
    t = time.perf_counter()
    hq_cli(hq_data, "import", str(csv_path))
    print(f"head office publishes version 2 ({changed:,} rows changed): {time.perf_counter() - t:.1f} s")
    delta = measure_in_child(SYNC_CODE.format(data=str(store), key=KEY, url=url, token=tokens[0], public=public, peak=PEAK_MB))
    list_file = next(store.glob("tiers-*.db"))
    t = time.perf_counter()
    shutil.copyfile(list_file, work / "copy.db")
    copy_s = time.perf_counter() - t
    print(f"delta sync, {changed:,} rows on a {rows:,}-row list: {delta['seconds']:.2f} s, peak RSS "
          f"{delta['peak_rss_mb']:.0f} MB ({delta['message']}) | floor (copy the list file, "
          f"{list_file.stat().st_size / 1e6:.0f} MB): {copy_s:.2f} s")
    return store


def bench_identify_during_sync(work: Path, url: str, token: str, public: str, rows: int, where: str,
                               seconds: float = 8.0) -> None:
    from posplugin.config import Settings
    from posplugin.store import auth
    from posplugin.store.service import Store
    from posplugin.store.sync import sync_in_child, sync_once
    from posplugin.store.web.app import create_app
    from posplugin.web.server import BackgroundServer

    # A store whose list came from a local import: its next sync is a full one.
    data = work / f"store-{where}"
    measure_in_child(IMPORT_CODE.format(data=str(data), key=KEY, csv=str(work / "v1.csv"), peak=PEAK_MB))
    hq_settings = {"hq_url": url, "hq_token": token, "hq_public_key": public}
    store = Store(Settings(data_dir=data, id_key=KEY, rate_limit_per_s=0, **hq_settings))
    with store.db.write() as conn:
        till = auth.create_token(conn, "till", "bench")
    server = BackgroundServer(create_app(store=store), threads=store.settings.threads).start()
    os.environ.update({f"POSPLUGIN_{k.upper()}": v for k, v in hq_settings.items()}, POSPLUGIN_ID_KEY=KEY)

    def load(duration: float) -> list:
        out = subprocess.run([sys.executable, "-c", CLIENT_CODE, server.url, till, str(rows), str(duration)],
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        return json.loads(out.stdout)

    load(1)  # warm up
    idle = [lat for _, lat in load(seconds)]
    window = {}

    def sync_in_background():
        time.sleep(1.0)
        window["start"] = time.time()
        window["result"] = sync_in_child(data) if where == "child" else sync_once(store)
        window["end"] = time.time()

    syncer = threading.Thread(target=sync_in_background)
    syncer.start()
    during_all = load(seconds + 20)
    syncer.join()
    assert store.tiers.info().source == "hq", "the sync did not apply"
    # One second past the end counts too: the first lookups on the new list open it.
    during = [lat for at, lat in during_all if window["start"] <= at <= window["end"] + 1]
    label = "a child process (as serve does)" if where == "child" else "a thread of the serving process"
    print(f"identify at 100 req/s while a full sync applies in {label} "
          f"({window['end'] - window['start']:.1f} s, {window['result'].status}, {len(during)} requests): "
          f"p50 {percentile(during, 50) * 1e3:.2f} ms, p99 {percentile(during, 99) * 1e3:.2f} ms | idle: "
          f"p50 {percentile(idle, 50) * 1e3:.2f} ms, p99 {percentile(idle, 99) * 1e3:.2f} ms | p99 ratio "
          f"{percentile(during, 99) / percentile(idle, 99):.1f}")
    server.stop()
    store.close()
    shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="posplugin-bench-sync-") as tmp:
        work = Path(tmp)
        process, url, tokens, public, hq_data = start_head_office(work, args.rows)
        try:
            bench_full_and_delta(work, url, tokens, public, hq_data, args.rows, args.changed)
            bench_identify_during_sync(work, url, tokens[1], public, args.rows, "child")
            bench_identify_during_sync(work, url, tokens[2], public, args.rows, "thread")
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
