"""The peer: the lookup a store's integrator would hand-roll instead of
running posplugin. Flask on waitress (its defaults), HMAC-SHA256 of the
email, one indexed SELECT in a SQLite table, a JSON answer. Nothing recorded,
no token checked, no schema: what posplugin is compared with.

Started by bench_identify.py in the same run:
    python peer_identify.py DB KEY PORT
"""

import hashlib
import hmac
import json
import sqlite3
import sys
import threading

from flask import Flask, jsonify, request
from waitress import serve

db_path, key, port = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
app = Flask(__name__)
local = threading.local()


def db() -> sqlite3.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    return conn


@app.post("/api/v1/identify")
def identify():
    body = request.get_json()
    email = body["identifier"]["value"].strip().casefold()
    digest = hmac.new(key, ("email:" + email).encode(), hashlib.sha256).digest()
    row = db().execute("SELECT followers, rate, niches FROM t WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        return jsonify({"known": False, "tier": "everyday", "service_level": "standard"})
    followers, rate, niches = row
    reach = int(followers * rate + 0.5)
    tier = next((name for name, least in (("mega", 1_000_000), ("macro", 100_000), ("micro", 10_000),
                                          ("nano", 1_000)) if followers >= least), "everyday")
    level = "murdoch" if reach >= 200 else "priority" if reach >= 50 else "standard"
    return jsonify({"known": True, "tier": tier, "service_level": level, "followers": followers,
                    "engagement_rate": rate, "engaged_reach": reach, "niches": niches.split(";")})


if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=port, _quiet=True)
