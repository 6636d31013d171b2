"""Vendor callbacks over HTTP, each beside a bare endpoint on the same server.

A Lightspeed X-Series remote rule blocks the register until it answers, so its
latency is what a cashier waits; a Qminder ticket webhook (signature check,
queue event, identify) is the queue side. Load at a steady 50 requests/s from
a separate process, 2 in 5 customers on a 10,000-row list (the lookup is the
same as identify's, measured on 1,000,000 rows in bench_identify.py).

Run: python benchmarks/bench_hooks.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_identify import KEY, PACED, percentile  # noqa: E402

SECRETS = {"lightspeed_secret": "rule-secret", "qminder_secret": "qminder-secret",
           "qminder_webhook_url": "https://store.example/hooks/qminder/tickets"}

CLIENT = PACED + r"""
import hashlib, hmac, json, sys, time
import requests
url, kind, rate, seconds, secrets = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
s = requests.Session()
lat = []
for i in paced(rate, int(rate * seconds)):
    phone = f"+47 4{(i * 7919) % 10000:07d}" if i % 5 >= 3 else f"+47 9{i:07d}"
    if kind == "lightspeed":
        body = json.dumps({"event_type": "sale.customer.changed", "retailer_id": "r1",
                           "sale": {"id": f"sale-{i}", "register_id": str(i % 8), "status": "OPEN"},
                           "customer": {"id": f"c-{i}", "first_name": "Sam", "phone": phone}}).encode()
        path, headers = "/hooks/lightspeed/rules?secret=" + secrets["lightspeed_secret"], {}
    elif kind == "qminder":
        body = json.dumps({"type": "ticket_created", "data": {"id": str(i), "line": i % 8, "firstName": "Jane",
                           "phoneNumber": int(phone.replace(" ", "").lstrip("+"))}}).encode()
        signature = hmac.new(secrets["qminder_secret"].encode(), secrets["qminder_webhook_url"].encode() + body,
                             hashlib.sha256).hexdigest()
        path, headers = "/hooks/qminder/tickets", {"X-Qminder-Signature": signature}
    else:
        body, path, headers = json.dumps({"lane": str(i % 8)}).encode(), "/bare", {}
    t = time.perf_counter()
    r = s.post(url + path, data=body, headers={"Content-Type": "application/json", **headers})
    lat.append(time.perf_counter() - t)
    assert r.status_code == 200, r.text
print(json.dumps(lat))
"""


def load(url: str, kind: str, rate: float = 50.0, seconds: float = 10.0) -> list:
    out = subprocess.run([sys.executable, "-c", CLIENT, url, kind, str(rate), str(seconds), json.dumps(SECRETS)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    from flask import jsonify, request

    from posplugin.config import Settings
    from posplugin.store.service import Store
    from posplugin.store.web.app import create_app
    from posplugin.tiers.lists import import_csv
    from posplugin.web.server import BackgroundServer

    with tempfile.TemporaryDirectory(prefix="posplugin-bench-hooks-") as tmp:
        store = Store(Settings(data_dir=Path(tmp), id_key=KEY, default_region="NO", rate_limit_per_s=0,
                               plugins="lightspeed, qminder", extra=SECRETS))
        rows = "".join(f"phone,+47 4{i:07d},{1000 + i * 37},0.06,running,yes\n" for i in range(10_000))
        import_csv(store.tiers, io.StringIO(
            "identifier_type,identifier,followers,engagement_rate,niches,consent\n" + rows), store.hasher)
        app = create_app(store=store)

        @app.post("/bare")
        def bare():  # the floor: same server, same JSON in and out, no work
            return jsonify({"lane": request.get_json()["lane"]})

        server = BackgroundServer(app, threads=store.settings.threads).start()
        load(server.url, "bare", seconds=1)  # warm up
        floor = load(server.url, "bare")
        print(f"bare endpoint at 50 req/s: p50 {percentile(floor, 50) * 1e3:.2f} ms, "
              f"p99 {percentile(floor, 99) * 1e3:.2f} ms")
        for kind, what in (("lightspeed", "Lightspeed remote rule (sale.customer.changed → identify, pop-up)"),
                           ("qminder", "Qminder ticket_created (signature, queue join, queue-stage identify)")):
            lat = load(server.url, kind)
            print(f"{what} at 50 req/s: p50 {percentile(lat, 50) * 1e3:.2f} ms, p99 {percentile(lat, 99) * 1e3:.2f} ms"
                  f" | bare p99 {percentile(floor, 99) * 1e3:.2f} ms")
        server.stop()
        store.close()


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description=__doc__.split("\n")[0],
                            epilog="Prints each figure beside its floor measured in the same run.").parse_args()
    main()
