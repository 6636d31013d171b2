"""Shared fixtures: a real store over a real SQLite file, served by the front door (asyncio) on
127.0.0.1, and HTTP clients holding tokens of each role."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from servers import PostgresCluster
from sqlalchemy import text

from posplugin.config import Settings
from posplugin.hq import consent
from posplugin.hq.accounts import Accounts
from posplugin.hq.customers import Customers
from posplugin.hq.metrics import Collector
from posplugin.hq.office import HeadOffice
from posplugin.hq.vault import Vault
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.tiers.lists import import_csv
from posplugin.web.app import create_app
from posplugin.web.server import BackgroundServer

ID_KEY = "test-identifier-key-0123456789abcdef"
TIER_COLUMNS = ["identifier_type", "identifier", "followers", "engagement_rate", "niches", "consent"]

# A small tier list with one customer per interesting case (DESIGN.md examples).
TIER_ROWS = [
    ["phone", "+47 412 34 567", "4200", "6.2%", "running;coffee", "yes"],        # murdoch, nano
    ["email", "Micro.Mia@Example.com", "45000", "0.003", "skincare", "yes"],     # priority, micro
    ["handle", "@BigBen", "2000000", "0.5%", "football;travel", "yes"],           # murdoch, mega
    ["loyalty_id", "L-1001", "800", "0.02", "", "yes"],                          # standard, everyday
    ["email", "optout@example.com", "90000", "9%", "wine", "no"],                # opted out
]


class Client:
    """A requests session against the live server, authenticated as one role."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)


def tier_csv(rows=TIER_ROWS, header=TIER_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "store", id_key=ID_KEY, default_region="NO",
                    timezone="Europe/Oslo", rate_limit_per_s=0)


@pytest.fixture
def store(settings):
    s = Store(settings)
    yield s
    s.close()


@pytest.fixture
def loaded_store(store):
    """A store with TIER_ROWS as its tier list."""
    import_csv(store.tiers, io.StringIO(tier_csv()), store.hasher)
    return store


class FullDisk:
    """ENOSPC injected into a database's writes (``db.write``) until :meth:`room`;
    deferred writes retry every 50 ms meanwhile."""

    def __init__(self, db, monkeypatch):
        self.full = True
        real_write = db.write

        @contextlib.contextmanager
        def write():
            if self.full:
                raise sqlite3.OperationalError("database or disk is full")
            with real_write() as conn:
                yield conn

        monkeypatch.setattr(db, "write", write)
        db.deferred._retry_s = 0.05

    def room(self) -> None:
        self.full = False


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(db)`` fills the disk under ``db`` (see :class:`FullDisk`)."""
    return lambda db: FullDisk(db, monkeypatch)


@pytest.fixture
def tokens(store) -> dict[str, str]:
    with store.db.write() as conn:
        return {role: auth.create_token(conn, role, f"test-{role}") for role in auth.ROLES}


@pytest.fixture
def server(loaded_store):
    srv = BackgroundServer(create_app(store=loaded_store), threads=8).start()
    yield srv
    srv.stop()


@pytest.fixture
def clients(server, tokens) -> dict[str, Client]:
    """``clients["till"]`` etc.: HTTP clients of each role; ``clients[None]`` has no token."""
    out = {role: Client(server.url, token) for role, token in tokens.items()}
    out[None] = Client(server.url, None)
    return out


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under test-output/ for artefacts a person looks at (screenshots)."""
    path = Path(__file__).resolve().parent.parent / "test-output" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 60,
            cwd: Path | None = None):
    """Run ``python -m posplugin ARGS`` as a separate process against this
    checkout's code; returns the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "posplugin", *args], env={**clean_env(), **(env or {})},
                          input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO)


def clean_env() -> dict:
    """This machine's environment without any ``POSPLUGIN_*``, running this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    env["PYTHONPATH"] = str(REPO)
    return env



def cli_env(**settings) -> dict:
    """The environment for a posplugin process from this checkout: this
    machine's variables without any ``POSPLUGIN_*``, the test identifier key,
    and ``settings`` as ``POSPLUGIN_<NAME>`` (``hq_url="..."`` → ``POSPLUGIN_HQ_URL``)."""
    env = clean_env()
    env["POSPLUGIN_ID_KEY"] = ID_KEY
    env.update({f"POSPLUGIN_{name.upper()}": str(value) for name, value in settings.items()})
    return env


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. Missing Chromium skips the browser
    tests on a developer machine and fails them in CI (where .ci/run installs it)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PHONE = {"width": 360, "height": 740}


@pytest.fixture
def open_page(browser):
    """Open a page in a fresh browser context; every context is closed after the
    test, so no page of one test keeps reconnecting while the next one runs."""
    opened = []

    def open_(server, path, token, viewport=PHONE):
        context = browser.new_context(viewport=viewport)
        opened.append(context)
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.goto(f"{server.url}{path}#token={token}")
        return page

    yield open_
    for context in opened:
        context.close()


@pytest.fixture
def plugin_server(settings, loaded_store):
    """``plugin_server(plugins="square", extra={...})``: a store with those
    bundled plugins and settings, served on 127.0.0.1; returns (server, store)."""
    loaded_store.close()
    started = []

    def start(**changes):
        store = Store(settings.replace(**changes))
        server = BackgroundServer(create_app(store=store)).start()
        started.append((server, store))
        return server, store

    yield start
    for server, store in started:
        server.stop()
        store.close()


@pytest.fixture
def hooked(plugin_server, request):
    """A store with the test module's ``PLUGINS`` and ``PLUGIN_SETTINGS`` (vendor
    secrets), served on 127.0.0.1; returns (server, store)."""
    return plugin_server(plugins=request.module.PLUGINS, extra=request.module.PLUGIN_SETTINGS)


class Clock:
    """A clock tests move by hand: from ``now`` (epoch seconds or an aware
    datetime), else the real time."""

    def __init__(self, now: float | dt.datetime | None = None):
        self.now = time.time() if now is None else now.timestamp() if isinstance(now, dt.datetime) else now

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MURDOCH_PHONE = "+4741234567"  # TIER_ROWS' Murdoch-level customer


def identify(client: Client, value: str = MURDOCH_PHONE, id_type: str = "phone", *, lane: str = "3",
             **extra) -> requests.Response:
    """``POST /api/v1/identify`` as a till would send it."""
    return client.post("/api/v1/identify", json={"lane": lane, "identifier": {"type": id_type, "value": value},
                                                 **extra})


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster (Debian's postgresql package) for the
    whole session. Missing PostgreSQL skips on a developer machine and fails in
    CI (where .ci/run installs it)."""
    import os

    if not PostgresCluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing: install Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_database_url(request) -> str:
    """Head office's database, once per backend: "" (the SQLite file in its
    data folder) and a fresh database in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return ""
    name = f"t{next(_databases)}_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return request.getfixturevalue("postgres").create_database(name)


@pytest.fixture
def make_hq(tmp_path, hq_database_url):
    """``make_hq(**options)``: a head office (``posplugin.hq.HeadOffice``, with
    those keyword options) served on 127.0.0.1 as ``.server``, on a hand-moved
    clock ``.test_clock``; on SQLite and on PostgreSQL (``hq_database_url``)."""
    from posplugin.hq.office import HeadOffice
    from posplugin.hq.web import create_hq_app

    made = []

    def make(**options):
        clock = Clock()
        office = HeadOffice(tmp_path / "hq", ID_KEY, default_region="NO", clock=clock,
                            database_url=hq_database_url, **options)
        # Join codes go to the console sender's log (see join_code()).
        hq_settings = Settings(data_dir=tmp_path / "hq", id_key=ID_KEY, default_region="NO",
                               code_sender="console")
        office.server = BackgroundServer(create_hq_app(office, settings=hq_settings)).start()
        office.test_clock = clock
        made.append(office)
        return office

    yield make
    for office in made:
        office.server.stop()
        office.close()


@pytest.fixture
def hq(make_hq):
    """A head office with its defaults (see ``make_hq``); every test using it
    runs on SQLite and on PostgreSQL."""
    return make_hq()


def hq_query(office, sql: str) -> list:
    """The rows of ``sql`` in head office's database (either backend)."""
    with office.engine.connect() as conn:
        return conn.execute(text(sql)).all()


def join_code(caplog, masked_tail: str = "") -> str:
    """The newest one-time code the console sender logged (for an identifier
    whose masked form ends with ``masked_tail``)."""
    for record in reversed(caplog.records):
        found = re.match(r"join code (\d{6}) for (\S+)", record.getMessage())
        if found and found.group(2).endswith(masked_tail):
            return found.group(1)
    raise AssertionError("the console sender logged no code")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd, tmp_path, port, env):
    """Start ``CMD serve`` on ``port`` as its own process; returns (process, first /healthz answer)."""
    proc = subprocess.Popen(cmd + ["serve", "--data", str(tmp_path), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            return proc, requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.stdout.read())


@pytest.fixture(scope="session")
def standins_server():
    """Instagram, TikTok and Google/YouTube stand-ins (tests/platform_standins.py) on 127.0.0.1."""
    from platform_standins import StandIns, create_app

    state = StandIns()
    server = BackgroundServer(create_app(state)).start()
    state.url = server.url
    yield state
    server.stop()


@pytest.fixture
def standins(standins_server):
    """The stand-ins with their accounts and error modes reset for this test."""
    from platform_standins import StandIns

    fresh = StandIns()
    standins_server.accounts = fresh.accounts
    standins_server.fail.clear()
    return standins_server


LINK_REDIRECT = "https://hq.example.com/hq/v1/join/accounts/{}/callback"


def stand_in_platforms(standins, clock=None):
    from platform_standins import platforms
    return platforms(standins, clock)


class World:
    """A head office with customers, accounts and a collector on one clock."""

    def __init__(self, tmp_path, standins, database_url=""):
        self.clock = Clock()
        self.database_url = database_url
        self.office = HeadOffice(tmp_path / "hq", ID_KEY, default_region="NO", clock=self.clock,
                                 database_url=database_url)
        self.sent = []
        self.customers = Customers(self.office.engine, ID_KEY, default_region="NO", clock=self.clock,
                                   send=lambda *a: self.sent.append(a) or True)
        self.platforms = stand_in_platforms(standins, self.clock)
        vault = Vault.in_folder(self.office.data_dir)
        self.accounts = Accounts(self.office.engine, vault, self.platforms, clock=self.clock)
        # The environment a posplugin command needs to reach this head office.
        self.env = {"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_HQ_DATABASE_URL": database_url}
        self.collector = Collector(self.office.engine, vault, self.platforms, clock=self.clock,
                                   data_dir=self.office.data_dir,
                                   refresh_hours=168, max_age_days=30)

    def join(self, phone: str, consented: bool = True) -> int:
        self.customers.request_code("phone", phone, "10.0.0.1")
        who, _ = self.customers.verify_code("phone", phone, self.sent[-1][2])
        if consented:
            self.customers.give_consent(who.customer_id, consent.VERSION, ["tiering"], "en")
        return who.customer_id

    def link(self, customer_id: int, name: str) -> None:
        url = self.accounts.start_link(customer_id, name, LINK_REDIRECT.format(name))
        back = parse_qs(urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"]).query)
        self.accounts.finish_link(name, back["state"][0], back["code"][0], LINK_REDIRECT.format(name))

    def account(self, customer_id: int, name: str) -> dict:
        return next(a for a in self.accounts.of_customer(customer_id) if a["platform"] == name)


@pytest.fixture
def world(tmp_path, standins, hq_database_url):
    """Customers joining a head office (no HTTP), linking stand-in accounts,
    measured by a collector; on SQLite and on PostgreSQL."""
    w = World(tmp_path, standins, hq_database_url)
    yield w
    w.office.close()


@pytest.fixture
def customer_hq(hq, standins):
    """``hq`` served again with the console sender and the stand-in platforms,
    so customers can join and link accounts over HTTP; the server (``.url``,
    ``.app``)."""
    from posplugin.hq.web import create_hq_app

    settings = Settings(data_dir=hq.data_dir, id_key=ID_KEY, default_region="NO", code_sender="console")
    server = BackgroundServer(create_hq_app(hq, settings=settings,
                                            platforms=stand_in_platforms(standins, hq.test_clock))).start()
    yield server
    server.stop()


def joined_customer(server, caplog, phone="+47 412 34 567", scopes=("tiering",), link="instagram"):
    """A requests session of a customer who joined on ``server`` (code from
    the console sender), consented to ``scopes`` and linked ``link`` through
    its stand-in platform, which head office has then measured."""
    from posplugin.hq.join_web import COLLECTOR

    http = requests.Session()
    base = server.url + "/hq/v1/join"
    assert http.post(base + "/code", json={"identifier": {"type": "phone", "value": phone}}, timeout=10).ok
    verified = http.post(base + "/verify", timeout=10, json={"identifier": {"type": "phone", "value": phone},
                                                             "code": join_code(caplog, phone[-2:])})
    assert verified.ok, verified.text
    http.headers["X-CSRF-Token"] = verified.json()["csrf"]  # as static/join.js echoes it
    given = http.post(base + "/consent", json={"version": consent.VERSION, "scopes": list(scopes)}, timeout=10)
    assert given.ok, given.text
    if link:
        start = http.post(f"{base}/accounts/{link}/link", timeout=10)
        assert start.ok, start.text
        assert http.get(start.json()["authorize_url"], timeout=10).url.endswith(f"/join#linked={link}")
        assert server.app.extensions[COLLECTOR].run().measured >= 1
    return http
