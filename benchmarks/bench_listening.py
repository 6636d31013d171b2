"""Listening figures, each beside its floor or peer measured in the same run.

1. The classifier on the labelled set (benchmarks/data/listening_posts_*.tsv):
   accuracy and precision/recall per class, per language, beside the
   majority-class baseline; and on the third of the set it was not tuned on.
2. Post → floor at 1 store and at N stores (default 5,000): a signed
   Instagram webhook delivery to head office (served on loopback, SQLite),
   read from a Graph stand-in, kept and routed; then the store's
   conditional poll (``GET /hq/v1/heard/floor``) while N-1 other stores poll
   at their default interval. p95 post → floor = p95(delivery → kept) +
   p95(the interval's wait, uniform over heard_poll_s) + p95(poll → prompt),
   beside the store's own sync round trip (the signed manifest's GET) in the
   same run.

Run: python benchmarks/bench_listening.py [--stores 5000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from platform_standins import CHAIN_ACCOUNT, CHAIN_TOKEN, StandIns, create_app, meta_delivery, meta_signature  # noqa: E402

from posplugin.config import Settings  # noqa: E402
from posplugin.hq.listening.evaluation import evaluate, read_set  # noqa: E402
from posplugin.hq.listening.hub import ListeningHub  # noqa: E402
from posplugin.hq.office import HeadOffice  # noqa: E402
from posplugin.hq.web.app import create_hq_app  # noqa: E402
from posplugin.store import heard as store_heard  # noqa: E402
from posplugin.store.service import Store  # noqa: E402
from posplugin.store.sync import session  # noqa: E402
from posplugin.web.server import BackgroundServer  # noqa: E402

KEY = "bench-key-0123456789abcdef"


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def classifier() -> None:
    posts = read_set(*sorted((ROOT / "benchmarks/data").glob("listening_posts_*.tsv")))
    for title, subset in (("whole set", posts), ("held-out third (line % 3 == 0, not tuned on)",
                                                   [x for x in posts if x.line % 3 == 0])):
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


def post_to_floor(stores: int, seconds: float, poll_s: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-listening-"))
    standins = StandIns()
    graph = BackgroundServer(create_app(standins)).start()
    standins.url = graph.url
    standins.tokens[CHAIN_TOKEN] = "instagram"
    office = HeadOffice(folder / "hq", KEY)
    s = Settings(data_dir=folder / "hq", id_key=KEY, chain_handles="@nordshop", instagram_client_secret="ig-secret",
                 instagram_account_id=CHAIN_ACCOUNT, instagram_account_token=CHAIN_TOKEN,
                 instagram_graph_url=graph.url + "/ig/graph")
    hub = ListeningHub.open(office, s)
    server = BackgroundServer(create_hq_app(office, settings=s, hub=hub), threads=24).start()
    hub.listening.placements.set("store-0", handles="#store0")
    tokens = [office.create_token("store", f"store-{i}") for i in range(stores)]
    store = Store(Settings(data_dir=folder / "store", id_key=KEY, hq_url=server.url, hq_token=tokens[0],
                           rate_limit_per_s=0))
    http = session()
    http.headers["Authorization"] = f"Bearer {tokens[0]}"
    store_heard.poll(store, http)
    stop = threading.Event()
    load_counts = []

    def others(mine: list[str]):
        # Each of the other stores polls every poll_s with its ETag, as serve does.
        own = requests.Session()
        etags = {}
        rate = len(mine) / poll_s
        count = 0
        start = time.monotonic()
        while not stop.is_set():
            token = mine[count % len(mine)]
            due = start + count / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            headers = {"Authorization": f"Bearer {token}", **({"If-None-Match": etags[token]} if token in etags else {})}
            r = own.get(server.url + "/hq/v1/heard/floor", headers=headers, timeout=30)
            etags[token] = r.headers.get("ETag", "")
            count += 1
        load_counts.append((count, time.monotonic() - start))

    threads = []
    if stores > 1:
        share = tokens[1:]
        for k in range(8):
            t = threading.Thread(target=others, args=(share[k::8],), daemon=True)
            t.start()
            threads.append(t)
        time.sleep(2)
    kept, polls, syncs = [], [], []
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        standins.media[f"m{n}"] = {"caption": f"40 minutes at the till #store0 @nordshop ({n})",
                                   "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
                                   "permalink": "", "username": "x"}
        body = meta_delivery(media_id=f"m{n}")
        t0 = time.perf_counter()
        requests.post(server.url + "/hq/v1/hooks/instagram", data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)})
        hub.reader.drain(30)
        kept.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        made = store_heard.poll(store, http)
        polls.append(time.perf_counter() - t1)
        assert made.get("prompts") == 1, made
        t2 = time.perf_counter()
        http.get(server.url + "/hq/v1/feed/manifest.json", timeout=30)
        syncs.append(time.perf_counter() - t2)
    stop.set()
    for t in threads:
        t.join(30)
    sent = sum(c for c, _ in load_counts)
    rate = sent / max(d for _, d in load_counts) if load_counts else 0.0
    wait_p95 = 0.95 * poll_s
    print(f"\npost → floor at {stores:,} store{'s' if stores > 1 else ''} ({n} posts; other stores' conditional "
          f"polls sent {rate:,.0f}/s, target {(stores - 1) / poll_s:,.0f}/s)")
    print(f"  delivery → kept, routed       p50 {statistics.median(kept) * 1000:7.1f} ms  p95 {p(kept, .95) * 1000:7.1f} ms")
    print(f"  store poll → prompt          p50 {statistics.median(polls) * 1000:7.1f} ms  p95 {p(polls, .95) * 1000:7.1f} ms")
    print(f"  store's own sync round trip  p50 {statistics.median(syncs) * 1000:7.1f} ms  p95 {p(syncs, .95) * 1000:7.1f} ms"
          "  (the manifest GET, same run)")
    print(f"  wait for the next poll       p95 {wait_p95:7.1f} s   (heard_poll_s {poll_s:g}, uniform)")
    print(f"  post → floor p95 ≈ {p(kept, .95) + wait_p95 + p(polls, .95):.1f} s (target ≤ 60 s)")
    server.stop()
    graph.stop()
    store.close()
    office.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--poll", type=float, default=15.0, help="heard_poll_s (default 15, the setting's default)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}, "
          f"{os.cpu_count()} cores")
    classifier()
    post_to_floor(1, args.seconds, args.poll)
    post_to_floor(args.stores, args.seconds, args.poll)


if __name__ == "__main__":
    main()
