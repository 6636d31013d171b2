"""Live stream figures, in one run on one server:

1. Time from POST /api/v1/identify to the prompt event arriving at each of 50
   connected stream clients (p50/p99 over all deliveries).
2. Identify latency p50/p99 with 100 streams open, beside the same with none.

Stream clients and the identify load run in separate processes from the
server, as tablets and tills would.

Run: python benchmarks/bench_stream.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_identify import KEY, PACED, percentile  # noqa: E402

LISTENERS = r"""
# Many stream clients on one thread (non-blocking sockets and a selector), so
# the load generator costs the 2-core machine little next to the server.
import json, selectors, socket, sys, time
host, port, token, count, expect = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
request = (f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
           "Accept: text/event-stream\r\n\r\n").encode()
sel = selectors.DefaultSelector()
buffers, counts = {}, {}
for _ in range(count):
    sock = socket.create_connection((host, port))
    sock.sendall(request)
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
    buffers[sock], counts[sock] = b"", 0
arrivals = []
opened = 0
while opened < count:  # every stream has answered before the identify load starts
    for key, _ in sel.select(timeout=10):
        chunk = key.fileobj.recv(65536)
        buffers[key.fileobj] += chunk
        if b"retry:" in buffers[key.fileobj] and counts[key.fileobj] == 0:
            counts[key.fileobj] = -1
            opened += 1
print("ready", flush=True)
for sock in counts:
    counts[sock] = 0
# Stay connected until every stream has ``expect`` prompts, or for ``expect``
# being 0, until the parent closes our stdin (the identify run is over).
deadline = time.time() + 120
sel.register(sys.stdin, selectors.EVENT_READ)
done = False
while not done and (expect == 0 or sum(counts.values()) < count * expect) and time.time() < deadline:
    for key, _ in sel.select(timeout=1):
        sock = key.fileobj
        if sock is sys.stdin:
            done = not sys.stdin.readline()
            continue
        chunk = sock.recv(65536)
        now = time.time()
        buffers[sock] += chunk
        *frames, buffers[sock] = buffers[sock].split(b"\n\n")
        for frame in frames:
            if b"event: prompt" in frame:
                data = frame.split(b"data: ", 1)[1].split(b"\r\n")[0]
                arrivals.append((json.loads(data)["id"], now))
                counts[sock] += 1
print(json.dumps(arrivals), flush=True)
"""

IDENTIFY = PACED + r"""
import json, sys, time, requests
url, token, n, first, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = requests.Session()
sent, lat = [], []
for i in paced(100, n):   # a steady 100 requests/s
    # One customer in ``every`` is on the list (a new Murdoch-level prompt, so an
    # event for every stream); the rest are everyday shoppers.
    value = f"customer{first + i}@example.com" if i % every == 0 else f"shopper{first + i}@example.net"
    t0 = time.time(); t = time.perf_counter()
    r = s.post(url + "/api/v1/identify", headers={"Authorization": f"Bearer {token}"},
               json={"lane": str(i % 8), "identifier": {"type": "email", "value": value}})
    lat.append(time.perf_counter() - t)
    sent.append((r.json()["prompt"]["id"] if r.json()["prompt"] else None, t0))
print(json.dumps({"sent": sent, "lat": lat}))
"""


def main() -> None:
    import io

    from posplugin.config import Settings
    from posplugin.store import auth
    from posplugin.store.service import Store
    from posplugin.tiers.lists import import_csv
    from posplugin.web.app import create_app
    from posplugin.web.server import BackgroundServer

    with tempfile.TemporaryDirectory(prefix="posplugin-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), id_key=KEY, rate_limit_per_s=0)
        store = Store(settings)
        rows = "".join(f"email,customer{i}@example.com,5000,0.06,running,yes\n" for i in range(5000))
        import_csv(store.tiers, io.StringIO(
            "identifier_type,identifier,followers,engagement_rate,niches,consent\n" + rows), store.hasher)
        with store.db.write() as conn:
            token = auth.create_token(conn, "staff", "bench")
        server = BackgroundServer(create_app(store=store), threads=settings.threads,
                                  max_streams=settings.max_streams).start()

        def identify(n, first, every=10):
            out = subprocess.run([sys.executable, "-c", IDENTIFY, server.url, token, str(n), str(first),
                                  str(every)],
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

        # 1. fan-out delay to 50 clients
        result, arrivals = with_listeners(50, 100, lambda: identify(1000, 0))
        sent = {pid: t for pid, t in result["sent"] if pid is not None}
        delays = [arrived - sent[pid] for pid, arrived in arrivals if pid in sent]
        print(f"identify → event at 50 stream clients: {len(delays):,} deliveries, p50 "
              f"{percentile(delays, 50) * 1e3:.1f} ms, p99 {percentile(delays, 99) * 1e3:.1f} ms")

        # 2. identify latency with 100 streams open vs none
        idle = identify(1000, 1000)["lat"]
        busy, _ = with_listeners(100, 0, lambda: identify(1000, 2000))
        busy = busy["lat"]
        print(f"identify at 100 req/s (1 in 10 a new prompt) with 100 streams open: p50 {percentile(busy, 50) * 1e3:.2f} ms, p99 "
              f"{percentile(busy, 99) * 1e3:.2f} ms | with none: p50 {percentile(idle, 50) * 1e3:.2f} ms, "
              f"p99 {percentile(idle, 99) * 1e3:.2f} ms")
        server.stop()
        store.close()


if __name__ == "__main__":
    main()
