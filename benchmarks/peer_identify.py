"""The peer: the lookup a store's integrator would hand-roll instead of
running posplugin. Flask on waitress (its defaults), HMAC-SHA256 of the
email, one indexed SELECT in a SQLite table, a JSON answer. Nothing recorded,
no token checked, no schema: what posplugin is compared with.

With ``--records`` it also does the one thing posplugin must that the plain
peer does not: for a customer who gets more than standard service it writes
a prompt and a visit in one commit (WAL, ``synchronous=NORMAL``) before it
answers, to ``DB.records.db``. It shows what recording costs on its own.

Started by bench_identify.py in the same run:
    python peer_identify.py DB KEY PORT [--records]
"""

import hashlib
import hmac
import sqlite3
import sys
import threading
import time

from flask import Flask, jsonify, request
from waitress import serve

db_path, key, port = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
records_path = db_path + ".records.db" if "--records" in sys.argv[4:] else None
app = Flask(__name__)
local = threading.local()
write_lock = threading.Lock()  # one writer at a time, queued in Python, as posplugin does

RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (id INTEGER PRIMARY KEY, at REAL, lane TEXT, hash BLOB, level TEXT,
                                    tier TEXT, status TEXT);
CREATE INDEX IF NOT EXISTS prompts_by_customer ON prompts (hash, at);
CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, at REAL, lane TEXT, hash BLOB, tier TEXT);
"""


def db() -> sqlite3.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    return conn


def records() -> sqlite3.Connection:
    conn = getattr(local, "records", None)
    if conn is None:
        conn = local.records = sqlite3.connect(records_path, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def record(digest: bytes, lane: str, level: str, tier: str) -> None:
    conn, now = records(), time.time()
    with write_lock:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO prompts (at, lane, hash, level, tier, status) VALUES (?, ?, ?, ?, ?, 'open')",
                     (now, lane, digest, level, tier))
        conn.execute("INSERT INTO visits (at, lane, hash, tier) VALUES (?, ?, ?, ?)", (now, lane, digest, tier))
        conn.execute("COMMIT")


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
    if records_path and level != "standard":
        record(digest, str(body.get("lane")), level, tier)
    return jsonify({"known": True, "tier": tier, "service_level": level, "followers": followers,
                    "engagement_rate": rate, "engaged_reach": reach, "niches": niches.split(";")})


if __name__ == "__main__":
    if records_path:
        with sqlite3.connect(records_path) as setup:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.executescript(RECORDS_SCHEMA)
    serve(app, host="127.0.0.1", port=port, _quiet=True)
