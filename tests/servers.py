"""Throw-away servers that tests and benchmarks start themselves: a PostgreSQL
cluster (initdb/pg_ctl in a temp folder, as the ``postgres`` user when run as
root), nginx serving a folder on loopback (both Debian packages), and a small
JSON stand-in for a vendor's API that cannot be reached from here."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("POSPLUGIN_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = Path("/usr/sbin/nginx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing (a test's own HTTP stand-in)."""

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]):
    """``handler`` answering on 127.0.0.1 in threads until the block ends;
    yields the base URL. It stops within a fiftieth of a second: with
    serve_forever's default polling a stop waits up to half a second."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        # The listening socket stays open until the server is collected: a port
        # closed here at once may be handed to the next test's store, and
        # Chromium then carries this origin's state into that page
        # (test_pages.py's floor alerts saw sound already allowed).
        server.shutdown()


class JsonStandIn:
    """A vendor's API on loopback: every GET answers ``status`` with ``body`` as
    JSON after ``delay`` seconds, and is recorded as (path, headers) in
    ``requests``. ``url`` is its base address."""

    def __init__(self, body, status: int = 200, delay: float = 0.0):
        stand_in = self
        self.requests: list[tuple[str, dict]] = []

        class Handler(QuietHandler):
            def do_GET(self):
                stand_in.requests.append((self.path, dict(self.headers)))
                time.sleep(delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


class PostgresCluster:
    """A cluster of its own on a free loopback port; ``url(db)`` for each database.

    ``durable=False`` (tests) turns fsync off: a crash loses the throw-away
    cluster anyway. Benchmarks keep PostgreSQL's defaults."""

    def __init__(self, durable: bool = False):
        self.folder = Path(tempfile.mkdtemp(prefix="posplugin-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.durable = durable
        self._user = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            shutil.chown(self.folder, "postgres", "postgres")
            self._user = ["runuser", "-u", "postgres", "--"]

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists()

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> "PostgresCluster":
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.folder}",
                   "-c max_connections=200"]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-t", "60", "-o", " ".join(options), "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @staticmethod
    def empty(url: str, tables: list[str]) -> None:
        """Delete every row of ``tables`` (children first) and restart every
        sequence in the database at ``url``, after closing every other
        connection to it (one a test left open must not hold a lock)."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            with conn.transaction():
                for table in tables:
                    conn.execute(f'DELETE FROM "{table}"')
                for (sequence,) in conn.execute("SELECT sequencename FROM pg_sequences").fetchall():
                    conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing what is still connected to it."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class Nginx:
    """nginx serving ``root`` as static files on a free loopback port."""

    def __init__(self, root: Path, folder: Path):
        self.root = Path(root)
        self.folder = Path(folder)
        self.port = free_port()
        self.process = None

    @staticmethod
    def available() -> bool:
        return NGINX.exists()

    def start(self) -> "Nginx":
        self.folder.mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        config = self.folder / "nginx.conf"
        config.write_text(f"""{user}daemon off;
worker_processes 1;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {self.folder}/body;
    proxy_temp_path {self.folder}/proxy;
    fastcgi_temp_path {self.folder}/fastcgi;
    uwsgi_temp_path {self.folder}/uwsgi;
    scgi_temp_path {self.folder}/scgi;
    types {{ text/tab-separated-values tsv; application/json json; }}
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        # Bodies are named by content and never change.
        location ~ \\.tsv$ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
""")
        self.process = subprocess.Popen([str(NGINX), "-c", str(config), "-p", str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx failed: {self.process.stderr.read().decode()}")
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
