"""Live stream figures, in one run on one server:

1. Time from POST /api/v1/identify to the prompt event arriving at each of 50
   connected stream clients (p50/p99 over all deliveries; target p99 <= 50 ms).
2. Identify latency p50/p99 at 100 req/s with no streams, with 100 busy
   streams (1 identify in 10 makes a prompt, so every stream gets events), and
   with 300 idle or slow sockets open (half a request head each, or a byte
   trickled every 2 s); beside a bare endpoint (same server, same JSON in
   and out, no work) in the same run. Target p99 <= 5 ms.
3. Time from revoking a token to its open stream closing (target <= 1 s).

Stream clients, slow sockets and the identify load run in separate processes
from the server, as tablets and tills would.

Run: python benchmarks/bench_stream.py [--requests N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_identify import KEY, PACED, percentile  # noqa: E402
from loadgen import LISTENERS  # noqa: E402

IDENTIFY = PACED + r"""
import json, sys, time, requests
url, token, n, first, every, path = (sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                    int(sys.argv[5]), sys.argv[6])
s = requests.Session()
sent, lat = [], []
for i in paced(100, n):   # a steady 100 requests/s
    # One customer in ``every`` is on the list (a new Murdoch-level prompt, so an
    # event for every stream); the rest are everyday shoppers.
    value = f"customer{first + i}@example.com" if i % every == 0 else f"shopper{first + i}@example.net"
    t0 = time.time(); t = time.perf_counter()
    r = s.post(url + path, headers={"Authorization": f"Bearer {token}"},
               json={"lane": str(i % 8), "identifier": {"type": "email", "value": value}})
    lat.append(time.perf_counter() - t)
    sent.append((r.json()["prompt"]["id"] if r.json()["prompt"] else None, t0))
print(json.dumps({"sent": sent, "lat": lat}))
"""


SLOW = r"""
# Sockets that never finish a request: half send half a request head and go
# silent, half trickle one byte of a head every 2 s. Held until stdin closes.
import selectors, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
silent, trickling = [], []
for i in range(count):
    sock = socket.create_connection((host, port))
    if i % 2:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        silent.append(sock)
    else:
        sock.sendall(b"G")
        trickling.append(sock)
print("ready", flush=True)
sel = selectors.DefaultSelector()
sel.register(sys.stdin, selectors.EVENT_READ)
head = b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000
sent = 0
while True:
    if sel.select(timeout=2):
        if not sys.stdin.readline():
            break
    for sock in trickling:
        sock.sendall(head[sent % len(head):sent % len(head) + 1])
    sent += 1
"""


def main(args) -> None:
    import io

    from flask import jsonify, request

    from posplugin.config import Settings
    from posplugin.store import auth
    from posplugin.store.service import Store
    from posplugin.store.web.app import create_app
    from posplugin.tiers.lists import import_csv
    from posplugin.web.server import BackgroundServer

    with tempfile.TemporaryDirectory(prefix="posplugin-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), id_key=KEY, rate_limit_per_s=0, max_streams=120,
                            max_streams_per_token=120)
        store = Store(settings)
        rows = "".join(f"email,customer{i}@example.com,5000,0.06,running,yes\n" for i in range(4 * args.requests + 1000))
        import_csv(store.tiers, io.StringIO(
            "identifier_type,identifier,followers,engagement_rate,niches,consent\n" + rows), store.hasher)
        with store.db.write() as conn:
            token = auth.create_token(conn, "staff", "bench")
        app = create_app(store=store)

        @app.post("/bare")
        def bare():  # the floor: same server, same JSON in and out, no work
            return jsonify({"prompt": None, "lane": request.get_json()["lane"]})

        server = BackgroundServer(app, threads=settings.threads).start()

        def identify(n, first, every=10, path="/api/v1/identify"):
            out = subprocess.run([sys.executable, "-c", IDENTIFY, server.url, token, str(n), str(first),
                                  str(every), path],
                                 capture_output=True, text=True, check=True)
            return json.loads(out.stdout)

        def with_listeners(count, expect, run):
            proc = subprocess.Popen([sys.executable, "-c", LISTENERS, server.host, str(server.port), token,
                                     str(count), str(expect)], stdout=subprocess.PIPE,
                                    stdin=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready"
            result = run()
            proc.stdin.close()
            arrivals = json.loads(proc.stdout.readline())
            proc.wait(timeout=60)
            return result, arrivals

        def with_slow_sockets(count, run):
            proc = subprocess.Popen([sys.executable, "-c", SLOW, server.host, str(server.port), str(count)],
                                    stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready"
            result = run()
            proc.stdin.close()
            proc.wait(timeout=30)
            return result

        def figures(lat):
            return f"p50 {percentile(lat, 50) * 1e3:.2f} ms, p99 {percentile(lat, 99) * 1e3:.2f} ms"

        n = args.requests
        identify(200, 10_000_000)  # warm up
        identify(200, 0, path="/bare")
        # 1. fan-out delay to 50 clients
        result, arrivals = with_listeners(50, n // 10, lambda: identify(n, 0))
        sent = {pid: t for pid, t in result["sent"] if pid is not None}
        delays = [arrived - sent[pid] for pid, arrived in arrivals if pid in sent]
        print(f"identify → event at 50 stream clients: {len(delays):,} deliveries, p50 "
              f"{percentile(delays, 50) * 1e3:.1f} ms, p99 {percentile(delays, 99) * 1e3:.1f} ms (target p99 ≤ 50 ms)")

        # 2. identify latency at 100 req/s: none, 100 busy streams, 300 slow sockets; bare endpoint beside
        bare_lat = identify(n, 0, path="/bare")["lat"]
        idle = identify(n, n)["lat"]
        busy, _ = with_listeners(100, 0, lambda: identify(n, 2 * n))
        slow = with_slow_sockets(300, lambda: identify(n, 3 * n))["lat"]
        print(f"bare endpoint at 100 req/s (the floor): {figures(bare_lat)}")
        print(f"identify at 100 req/s, no streams:            {figures(idle)}")
        print(f"identify at 100 req/s, 100 busy streams:      {figures(busy['lat'])} (target p99 ≤ 5 ms)")
        print(f"identify at 100 req/s, 300 idle/slow sockets: {figures(slow)} (target p99 ≤ 5 ms)")

        # 3. a revoked token's stream closes
        import http.client
        import time
        with store.db.write() as conn:
            doomed = auth.create_token(conn, "staff", "bench-revoked")
        closes = []
        for _ in range(5):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            conn.request("GET", "/api/v1/stream", headers={"Authorization": f"Bearer {doomed}"})
            response = conn.getresponse()
            response.readline()
            with store.db.write() as db:
                db.execute("UPDATE tokens SET revoked_at = ? WHERE name = 'bench-revoked'", (time.time(),))
            t = time.perf_counter()
            while response.readline():
                pass
            closes.append(time.perf_counter() - t)
            conn.close()
            with store.db.write() as db:
                db.execute("UPDATE tokens SET revoked_at = NULL WHERE name = 'bench-revoked'")
            time.sleep(0.6)
        print(f"revoked token → its stream closed: max {max(closes) * 1e3:.0f} ms over {len(closes)} "
              f"(target ≤ 1,000 ms)")
        server.stop()
        store.close()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="Prints each figure beside its floor measured in the same run.")
    parser.add_argument("--requests", type=int, default=1000, help="identify requests per phase (at 100/s)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())
