"""Listening figures, each beside its floor or peer measured in the same run.

1. The classifier on the labelled set (benchmarks/data/listening_posts_*.tsv):
   accuracy and precision/recall per class, per language, beside the
   majority-class baseline; on the whole set, on the two thirds the rules were
   tuned on, on the third they were not (line % 3 == 0, never read while
   tuning), and on the development set written later for tuning
   (listening_dev_*.tsv).
2. Post → floor, end to end: head office (``posplugin hq serve``) and a store
   (``posplugin serve``, default ``heard_poll_s`` 15) run as processes of
   their own on loopback; a stand-in Graph API answers the mentioned media.
   Each post is a signed Instagram webhook delivery sent at a random moment;
   its time is taken from just before the delivery to the moment the heard
   prompt arrives on the store's live stream (``/api/v1/stream``), beside the
   store's own sync round trip (its token's manifest GET) in the same run. At
   1 store, and at N stores (default 5,000) whose other N-1 polls come from a
   separate process (asyncio) at their real rate: each store every 15 s ±20 %
   with its ETag.
3. Why a conditional poll and not a long-poll: one front door with head
   office's worker threads (the ``threads`` default) serves, in turn, N
   stores' conditional polls at their real rate and N stores' long-polls
   (held up to 25 s, as long-polls are); meanwhile a request that needs a worker (head office's other
   traffic) is timed, and one store's wake-up is timed from its event.

Run: python benchmarks/bench_listening.py [--stores 5000] [--seconds 150] [--only classifier,floor,longpoll]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import free_port  # noqa: E402

from posplugin.config import Settings  # noqa: E402
from posplugin.demo.listening import CHAIN_ACCOUNT, Graph, meta_delivery, meta_signature  # noqa: E402
from posplugin.hq.listening.evaluation import evaluate, read_set  # noqa: E402
from posplugin.hq.office import HeadOffice  # noqa: E402
from posplugin.hq.schema import hq_tokens  # noqa: E402
from posplugin.tokens import digest  # noqa: E402

KEY = "bench-key-0123456789abcdef"
SECRET = "bench-app-secret"
POLL_S = 15.0
DATA = ROOT / "benchmarks/data"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# -- 1. the classifier -------------------------------------------------------------------


def classifier() -> None:
    posts = read_set(*sorted(DATA.glob("listening_posts_*.tsv")))
    dev = read_set(*sorted(DATA.glob("listening_dev_*.tsv")))
    for title, subset in (("whole set", posts), ("tuning two thirds", [p for p in posts if p.line % 3]),
                          ("held-out third (line % 3 == 0, its posts never read while tuning)",
                           [p for p in posts if p.line % 3 == 0]),
                          ("development set (written later, tuned on)", dev)):
        print(f"\nclassifier, {title}")
        for language, r in evaluate(subset).items():
            print(f"  {language}: {r['posts']} posts")
            for field in ("about", "tone"):
                base = r[field]["baseline"]
                print(f"    {field}: accuracy {r[field]['accuracy']:.1%} | majority baseline "
                      f"({base['label']}) {base['accuracy']:.1%}")
                for label, c in r[field]["classes"].items():
                    if c["support"]:
                        prec = "–" if c["precision"] is None else f"{c['precision']:.0%}"
                        print(f"      {label:<13} precision {prec:>5}  recall {c['recall']:.0%}  (n {c['support']})"
                              f"  | baseline recall {base['classes'][label]['recall']:.0%}")


# -- 2. post -> floor ----------------------------------------------------------------------

POLLS_CODE = r"""
import asyncio, json, random, sys, time
import aiohttp

base, tokens_file, seconds, interval, path = sys.argv[1:6]
seconds, interval = float(seconds), float(interval)
tokens = open(tokens_file).read().split()

async def store(session, token, stop, out):
    etag = None
    await asyncio.sleep(random.uniform(0, interval))
    while time.perf_counter() < stop:
        headers = {"Authorization": "Bearer " + token, **({"If-None-Match": etag} if etag else {})}
        t = time.perf_counter()
        try:
            async with session.get(base + path, headers=headers) as r:
                await r.read()
                etag = r.headers.get("ETag", etag)
                out.append((time.perf_counter() - t, r.status in (200, 304)))
        except Exception:
            out.append((time.perf_counter() - t, False))
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))

async def main():
    out = []
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(*(store(session, t, stop, out) for t in tokens))
        print(json.dumps({"elapsed": time.perf_counter() - start, "results": out}))

asyncio.run(main())
"""


def env(**settings) -> dict:
    out = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    out.update(PYTHONPATH=str(ROOT), POSPLUGIN_ID_KEY=KEY)
    out.update({f"POSPLUGIN_{k.upper()}": str(v) for k, v in settings.items()})
    return out


def wait_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


class Chain:
    """Head office and one store, as processes, with listening on a stand-in Graph."""

    def __init__(self, folder: Path, stores: int):
        self.folder = folder
        self.graph = Graph("bench-graph-token")
        office = HeadOffice(folder / "hq", KEY)
        self.tokens = [f"hq_bench_store_{i}" for i in range(stores)]
        with office.engine.begin() as conn:
            conn.execute(hq_tokens.insert(), [{"name": f"store-{i}", "role": "store", "token_hash": digest(t),
                                               "created_at": time.time()} for i, t in enumerate(self.tokens)])
        from posplugin.hq.listening.placement import Placements
        Placements(office.engine, office.clock).set("store-0", handles="#store0")
        self.public_key = office.public_key
        office.close()
        (folder / "tokens.txt").write_text("\n".join(self.tokens[1:]))
        self.hq_port, self.store_port = free_port(), free_port()
        self.hq_url, self.store_url = f"http://127.0.0.1:{self.hq_port}", f"http://127.0.0.1:{self.store_port}"
        hq_env = env(chain_handles="@nordshop", instagram_client_secret=SECRET,
                     instagram_account_id=CHAIN_ACCOUNT, instagram_account_token=self.graph.token,
                     instagram_graph_url=self.graph.url)
        self.hq = subprocess.Popen([sys.executable, "-m", "posplugin", "hq", "serve", "--data", str(folder / "hq"),
                                    "--port", str(self.hq_port)], env=hq_env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        wait_up(self.hq_url + "/hq/v1/openapi.json", self.hq)
        store_env = env(hq_url=self.hq_url, hq_token=self.tokens[0], hq_public_key=self.public_key,
                        rate_limit_per_s=0)
        made = subprocess.run([sys.executable, "-m", "posplugin", "token", "create", "--role", "staff", "--name",
                               "bench", "--data", str(folder / "store")], env=store_env, capture_output=True,
                              text=True, check=True)
        self.staff = made.stdout.strip()
        self.store = subprocess.Popen([sys.executable, "-m", "posplugin", "serve", "--data", str(folder / "store"),
                                       "--port", str(self.store_port)], env=store_env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        wait_up(self.store_url + "/healthz", self.store)

    def close(self) -> None:
        for process in (self.store, self.hq):
            process.terminate()
            process.wait(timeout=30)
        self.graph.stop()


def watch_floor(chain: Chain, arrived: dict, stop: threading.Event) -> None:
    """The store's live stream: when each heard prompt (post n) arrived."""
    with requests.get(chain.store_url + "/api/v1/stream", params={"access_token": chain.staff}, stream=True,
                      timeout=(5, 60)) as stream:
        event = None
        for line in stream.iter_lines(decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "prompt":
                prompt = json.loads(line[5:])
                found = re.search(r"\(post (\d+)\)", prompt.get("excerpt") or "")
                if prompt.get("kind") == "heard" and found:
                    arrived.setdefault(int(found[1]), time.time())


def post_to_floor(stores: int, seconds: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-listening-"))
    chain = Chain(folder, stores)
    arrived: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_floor, args=(chain, arrived, stop), daemon=True)
    watcher.start()
    polls = None
    if stores > 1:
        polls = subprocess.Popen([sys.executable, "-c", POLLS_CODE, chain.hq_url, str(folder / "tokens.txt"),
                                  str(seconds + 40), str(POLL_S), "/hq/v1/heard/floor"], stdout=subprocess.PIPE,
                                 text=True)
        time.sleep(POLL_S)   # every simulated store is polling before the first post
    sent, syncs, n = {}, [], 0
    http = requests.Session()
    manifest = {"Authorization": f"Bearer {chain.tokens[0]}"}
    end = time.monotonic() + seconds
    loads = [os.getloadavg()[0]]
    while time.monotonic() < end:
        n += 1
        media = f"m{n}"
        chain.graph.media[media] = {"caption": f"40 minutes at till 2 #store0 @nordshop (post {n})",
                                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
                                    "permalink": "", "username": "a.customer"}
        body = meta_delivery(media_id=media)
        sent[n] = time.time()
        http.post(chain.hq_url + "/hq/v1/hooks/instagram", data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, SECRET)})
        t = time.perf_counter()
        http.get(chain.hq_url + "/hq/v1/feed/manifest.json", headers=manifest, timeout=30)
        syncs.append(time.perf_counter() - t)
        time.sleep(random.uniform(1.0, 4.0))   # posts land at any moment of the store's poll cycle
        loads.append(os.getloadavg()[0])
    deadline = time.monotonic() + 2 * POLL_S + 10
    while len(arrived) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    stop.set()
    rate = ""
    if polls is not None:
        out = json.loads(polls.communicate(timeout=120)[0].strip().splitlines()[-1])
        latencies = [x for x, _ in out["results"]]
        failed = sum(1 for _, ok in out["results"] if not ok)
        rate = (f"; the other {stores - 1:,} stores' conditional polls: {len(latencies) / out['elapsed']:,.0f}/s "
                f"(their real rate {(stores - 1) / POLL_S:,.0f}/s), p50 {statistics.median(latencies) * 1e3:.1f} ms, "
                f"p99 {pct(latencies, .99) * 1e3:.1f} ms, {failed} failed")
    chain.close()
    floor = [arrived[k] - sent[k] for k in sent if k in arrived]
    print(f"\npost → floor at {stores:,} store{'s' if stores > 1 else ''} ({n} posts, {len(floor)} on the floor; "
          f"load average {min(loads):.1f}–{max(loads):.1f}){rate}")
    if floor:
        print(f"  signed delivery → prompt on the store's stream  p50 {statistics.median(floor):6.1f} s  "
              f"p95 {pct(floor, .95):6.1f} s  max {max(floor):6.1f} s  (heard_poll_s {POLL_S:g} ±20 %; target ≤ 60 s)")
    print(f"  store's own sync round trip (manifest GET)      p50 {statistics.median(syncs) * 1e3:6.1f} ms "
          f"p95 {pct(syncs, .95) * 1e3:6.1f} ms")


# -- 3. conditional poll or long-poll ---------------------------------------------------------

SERVER_CODE = r"""
import json, sys, threading, time
from flask import Flask, Response, request
sys.path.insert(0, sys.argv[2])
from posplugin.web.frontdoor import FrontDoor

app = Flask(__name__)
news = {}
woken = threading.Condition()
answered = {"poll": 0, "longpoll": 0, "other": 0}

def count():   # what the workers answered, kept where the benchmark reads it (whole, by rename)
    import os
    while True:
        with open(sys.argv[3] + ".tmp", "w") as f:
            json.dump(answered, f)
        os.replace(sys.argv[3] + ".tmp", sys.argv[3])
        time.sleep(0.5)

threading.Thread(target=count, daemon=True).start()

@app.get("/poll")
def poll():   # a conditional poll: 304 while nothing is new, as /hq/v1/heard/floor
    store = request.args["store"]
    etag = f'"{news.get(store, 0)}"'
    answered["poll"] += 1
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response("{}", headers={"ETag": etag}, content_type="application/json")

@app.get("/longpoll")
def longpoll():   # held on a worker thread until there is news for the store, or 25 s
    store = request.args["store"]
    seen = int(request.args.get("seen", "0"))
    with woken:
        woken.wait_for(lambda: news.get(store, 0) > seen, timeout=25)
    answered["longpoll"] += 1
    return {"news": news.get(store, 0)}

@app.post("/news")
def post_news():
    store = request.args["store"]
    with woken:
        news[store] = news.get(store, 0) + 1
        woken.notify_all()
    return {"news": news[store]}

@app.get("/other")
def other():   # head office's other traffic: anything that needs a worker
    answered["other"] += 1
    return {"ok": True}

FrontDoor(app, "127.0.0.1", int(sys.argv[1]), threads=int(sys.argv[4])).run()
"""

LONGPOLL_CODE = r"""
import asyncio, json, sys, time
import aiohttp

base, stores, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

async def store(session, i, stop, out):
    seen = 0
    while time.perf_counter() < stop:
        try:
            async with session.get(f"{base}/longpoll?store=s{i}&seen={seen}") as r:
                seen = (await r.json())["news"]
                out.append(r.status == 200)
        except Exception:
            out.append(False)
            await asyncio.sleep(1)

async def main():
    out = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=90)) as session:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(store(session, i, stop, out) for i in range(1, stores)))
    print(json.dumps({"answers": sum(out), "failed": len(out) - sum(out)}))

asyncio.run(main())
"""


def longpoll_or_poll(stores: int, seconds: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-longpoll-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    counts = folder / "answered.json"
    threads = Settings().threads   # head office's worker threads, as it runs by default
    server = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(port), str(ROOT), str(counts), str(threads)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(base + "/other", server)
    (folder / "tokens.txt").write_text("\n".join(f"s{i}" for i in range(1, stores)))
    print(f"\nconditional poll or long-poll, {stores:,} stores, one front door with {threads} worker threads "
          f"(head office's default; load average {load_average()})")
    try:
        for mode in ("conditional poll", "long-poll"):
            if mode == "conditional poll":
                load = subprocess.Popen([sys.executable, "-c", POLLS_CODE.replace(
                    'base + path', 'base + path + "?store=" + token'), base, str(folder / "tokens.txt"),
                    str(seconds), str(POLL_S), "/poll"], stdout=subprocess.PIPE, text=True)
            else:
                load = subprocess.Popen([sys.executable, "-c", LONGPOLL_CODE, base, str(stores), str(seconds)],
                                        stdout=subprocess.PIPE, text=True)
            time.sleep(min(seconds / 3, POLL_S))   # every store has asked at least once
            before, started = json.loads(counts.read_text()), time.monotonic()
            other, failed = [], 0
            http = requests.Session()
            end = time.monotonic() + seconds / 2
            while time.monotonic() < end:
                t = time.perf_counter()
                try:
                    http.get(base + "/other", timeout=30)
                    other.append(time.perf_counter() - t)
                except requests.RequestException:
                    failed += 1
                time.sleep(0.5)
            # One store's news: how long until that store has it (a poller learns at its next poll).
            wake = _news_reaches_a_long_poll(http, base) if mode == "long-poll" else None
            after, spent = json.loads(counts.read_text()), time.monotonic() - started
            kind = "poll" if mode == "conditional poll" else "longpoll"
            served = (after[kind] - before[kind]) / spent
            load.kill()   # held long-polls would keep it waiting for minutes
            load.wait()
            times = (f"p50 {statistics.median(other) * 1e3:8.1f} ms, p95 {pct(other, .95) * 1e3:8.1f} ms"
                     if other else "none answered")
            learns = (f"at its next poll (≤ {POLL_S * 1.2:g} s)" if mode == "conditional poll" else
                      f"after {wake:.1f} s" if wake is not None else "not within 60 s")
            need = (stores - 1) / (POLL_S if mode == "conditional poll" else 25.0)
            print(f"  {mode:<16} stores' requests answered {served:,.0f}/s (all of them, once each "
                  f"{'15 s' if mode == 'conditional poll' else '25 s hold'}: {need:,.0f}/s); head office's other "
                  f"requests: {times}, {failed} of {failed + len(other)} timed out (30 s); a store learns its news "
                  f"{learns}; load average {load_average()}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _news_reaches_a_long_poll(http, base: str) -> float | None:
    """Seconds from news for store s0 to its long-poll answering (None: not within 60 s)."""
    answered = {}

    def hold():
        try:
            http.get(base + "/longpoll?store=s0&seen=0", timeout=60)
            answered["at"] = time.perf_counter()
        except requests.RequestException:
            pass
    probe = threading.Thread(target=hold, daemon=True)
    probe.start()
    time.sleep(0.5)
    t = time.perf_counter()
    try:
        requests.post(base + "/news?store=s0", timeout=60)
    except requests.RequestException:
        return None
    probe.join(60)
    return answered["at"] - t if "at" in answered else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--only", default="classifier,floor,longpoll")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"load average {load_average()}, {os.cpu_count()} cores")
    if "classifier" in only:
        classifier()
    if "floor" in only:
        post_to_floor(1, args.seconds)
        post_to_floor(args.stores, args.seconds)
    if "longpoll" in only:
        longpoll_or_poll(args.stores, 60)


if __name__ == "__main__":
    main()
