"""Shared fixtures: a real store over a real SQLite file, served by the front door (asyncio) on
127.0.0.1, and HTTP clients holding tokens of each role."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest
from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ID_KEY,
    PHONE,
    Client,
    Clock,
    FullDisk,
    World,
    stand_in_platforms,
    tier_csv,
)
from servers import PostgresCluster

from posplugin.config import Settings
from posplugin.hq.office import HeadOffice
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.tiers.lists import import_csv
from posplugin.web.server import BackgroundServer


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
        # What the page itself reports as wrong (a script error, a failed request logged in red).
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
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
    from posplugin.hq.web.app import create_hq_app

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
    from posplugin.hq.web.app import create_hq_app

    settings = Settings(data_dir=hq.data_dir, id_key=ID_KEY, default_region="NO", code_sender="console")
    server = BackgroundServer(create_hq_app(hq, settings=settings,
                                            platforms=stand_in_platforms(standins, hq.test_clock))).start()
    yield server
    server.stop()


