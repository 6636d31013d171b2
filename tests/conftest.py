"""Shared fixtures: a real store over a real SQLite file, served by the front door (asyncio) on
127.0.0.1, and HTTP clients holding tokens of each role."""

from __future__ import annotations

import io
import itertools
import os
import shutil
from pathlib import Path

import pytest
from helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ID_KEY,
    PHONE,
    AppClient,
    Client,
    Clock,
    FullDisk,
    World,
    served_stand_in,
    stand_in_platforms,
    tier_csv,
)
from servers import PostgresCluster

from posplugin.config import Settings
from posplugin.hq.db import database_url, open_engine
from posplugin.hq.office import HeadOffice
from posplugin.hq.schema import metadata
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.tiers.lists import import_csv
from posplugin.web.server import BackgroundServer


def pytest_collection_modifyitems(items):
    """A test that drives Chromium is a browser test and a slow one, whatever
    it says: ``-m "not slow"``, the loop before each commit, leaves them to the
    whole suite."""
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


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
def app_clients(loaded_store, tokens) -> dict[str, AppClient]:
    """As ``clients``, through Flask's test client (no server, no socket): for
    what a handler does with a request, not for what the front door does."""
    app = create_app(store=loaded_store)
    out = {role: AppClient(app, token) for role, token in tokens.items()}
    out[None] = AppClient(app, None)
    return out


@pytest.fixture
def no_backoff(monkeypatch):
    """HTTP retries without their waits (urllib3's Retry, as the store's sync
    session uses it): each retry still happens, at once."""
    from urllib3.util.retry import Retry

    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0.0)


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

    def open_(server, path, token, viewport=PHONE, *, untouched=False):
        """With ``untouched``, return once the page has opened its live stream
        (after it set up its alerts) without the test having looked at it:
        Chromium takes Playwright's every evaluation for a tap, and a page tapped
        before it makes its sound context may play sound at once."""
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
        if untouched:
            with page.expect_request(lambda request: "/api/v1/stream" in request.url):
                page.goto(f"{server.url}{path}#token={token}")
        else:
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


def _database_name(request) -> str:
    """A PostgreSQL database name of this test's own."""
    return f"t{next(_databases)}_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_backend(request) -> str:
    """Head office's database engine: every test that takes it (through
    ``hq_database_url``, ``make_hq``, ``hq``, ``world``) runs once per backend."""
    return request.param


@pytest.fixture
def hq_database_url(request, hq_backend):
    """Head office's database, once per backend, EMPTY (for the migrations'
    tests): "" (the SQLite file in the data folder given) or a new database in
    the session's PostgreSQL cluster, dropped after the test (the cluster
    stays small and stops at once)."""
    if hq_backend == "sqlite":
        yield ""
        return
    postgres = request.getfixturevalue("postgres")
    name = _database_name(request)
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def migrated_hq_file(tmp_path_factory) -> Path:
    """An hq.db the migrations made, once per session."""
    folder = tmp_path_factory.mktemp("hq-migrated")
    open_engine(database_url(folder)).dispose()
    return folder / "hq.db"


@pytest.fixture(scope="session")
def migrated_postgres(postgres) -> str:
    """The URL of a PostgreSQL database the migrations made, once per session."""
    url = postgres.create_database("hq_tests")
    open_engine(database_url(Path(), url)).dispose()
    return url


@pytest.fixture
def migrated_hq_url(request, hq_backend, tmp_path) -> str:
    """Head office's database as the migrations make it, empty, once per
    backend (the migrations themselves are tested in test_hq_db.py, on empty
    databases). For SQLite, ``tmp_path/hq/hq.db``, a copy of one made once
    per session, and the URL ""; for PostgreSQL the session's database,
    emptied for this test: a new database costs a tenth of a second or more,
    emptying it a few milliseconds."""
    if hq_backend == "sqlite":
        folder = tmp_path / "hq"
        folder.mkdir(exist_ok=True)
        if not (folder / "hq.db").exists():  # a test may have made an older one there
            shutil.copyfile(request.getfixturevalue("migrated_hq_file"), folder / "hq.db")
        return ""
    url = request.getfixturevalue("migrated_postgres")
    PostgresCluster.empty(url, [table.name for table in reversed(metadata.sorted_tables)])
    return url


@pytest.fixture
def make_hq(request, tmp_path, hq_backend):
    """``make_hq(**options)``: a head office (``posplugin.hq.HeadOffice``, with
    those keyword options) served on 127.0.0.1 as ``.server``, on a hand-moved
    clock ``.test_clock``; on SQLite and on PostgreSQL (``migrated_hq_url``,
    unless the options name a ``database_url``)."""
    from posplugin.hq.web.app import create_hq_app

    made = []

    def make(**options):
        clock = Clock()
        if "database_url" not in options:
            options["database_url"] = request.getfixturevalue("migrated_hq_url")
        office = HeadOffice(tmp_path / "hq", ID_KEY, default_region="NO", clock=clock, **options)
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

    with served_stand_in(StandIns(), create_app) as state:
        yield state


@pytest.fixture
def standins(standins_server):
    """The stand-ins with their accounts and error modes reset for this test."""
    from platform_standins import StandIns

    fresh = StandIns()
    standins_server.accounts = fresh.accounts
    standins_server.fail.clear()
    standins_server.login_as.clear()
    return standins_server


@pytest.fixture
def world(tmp_path, standins, migrated_hq_url):
    """Customers joining a head office (no HTTP), linking stand-in accounts,
    measured by a collector; on SQLite and on PostgreSQL."""
    w = World(tmp_path, standins, migrated_hq_url)
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


