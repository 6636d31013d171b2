"""Helpers the tests share (fixtures are in conftest.py): the test identifier
key and tier list, an HTTP client holding a token, running the command line,
a controllable clock, free ports, head office's customers joining."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from hypothesis import HealthCheck
from sqlalchemy import text

from posplugin.db import DiskFull
from posplugin.hq.customers import consent
from posplugin.hq.customers.accounts import Accounts
from posplugin.hq.customers.collector import Collector
from posplugin.hq.customers.join import Customers
from posplugin.hq.customers.vault import Vault
from posplugin.hq.office import HeadOffice

ID_KEY = "test-identifier-key-0123456789abcdef"

# hypothesis's settings for a schemathesis run against a live server: no
# deadline (a request's time is the machine's), the server fixture shared by
# the examples on purpose, and schemathesis's own filtering allowed.
FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                    HealthCheck.filter_too_much]}


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


class AppClient:
    """:class:`Client`'s interface through Flask's test client: the app's
    handlers in this process, with no server or socket (for a handler's
    logic; the front door's own work needs a real server)."""

    def __init__(self, app, token: str | None):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, **kwargs) -> "AppResponse":
        kwargs.pop("timeout", None)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if "params" in kwargs:
            kwargs["query_string"] = kwargs.pop("params")
        return AppResponse(self.client.open(path, method=method, headers=headers, **kwargs))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)


class AppResponse:
    """The parts of a ``requests.Response`` tests read, from a Flask test response."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = response.get_data()
        self.text = response.get_data(as_text=True)

    def json(self):
        return json.loads(self.content)


def tier_csv(rows=TIER_ROWS, header=TIER_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def hold_writes(db) -> None:
    """The group writer of ``db`` lands nothing from now on unless asked
    (``db.flush()``, closing): deferred writes wait, as they would behind a
    slow round."""
    db.deferred.interval_s = 3600
    db.flush()  # what was deferred before, and the round under way with the old interval


class FullDisk:
    """ENOSPC injected into a database's writes (``db.write``, as it reports a
    full disk) until :meth:`room`;
    deferred writes retry every 50 ms meanwhile."""

    def __init__(self, db, monkeypatch):
        self.full = True
        real_write = db.write

        @contextlib.contextmanager
        def write():
            if self.full:
                db.full = "database or disk is full"
                raise DiskFull("database or disk is full")
            with real_write() as conn:
                yield conn

        monkeypatch.setattr(db, "write", write)
        db.deferred.retry_s = 0.05

    def room(self) -> None:
        self.full = False


REPO = Path(__file__).resolve().parent.parent


def damage(path: Path, how: str) -> None:
    """Damage a file the way disks and people do: ``junk at its start`` or ``zero length``."""
    if how == "junk at its start":
        with open(path, "r+b") as f:
            f.write(b"\x00junk" * 20)
    else:
        open(path, "wb").close()


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 60,
            cwd: Path | None = None):
    """Run ``python -m posplugin ARGS`` as a separate process against this
    checkout's code; returns the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "posplugin", *args], env={**clean_env(), **(env or {})},
                          input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO)


@contextlib.contextmanager
def posplugin_environment(env: dict | None):
    """This process's environment with only ``env``'s ``POSPLUGIN_*`` variables, until the block ends."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("POSPLUGIN_")}
    for name in saved:
        del os.environ[name]
    os.environ.update({k: v for k, v in (env or {}).items() if k.startswith("POSPLUGIN_")})
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("POSPLUGIN_")]:
            del os.environ[name]
        os.environ.update(saved)


def cli(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the command ``posplugin ARGS`` in this process, as ``run_cli`` does in
    a process of its own but without its second of start-up: the same
    ``posplugin.cli.main``, with ``env``'s ``POSPLUGIN_*`` as the only ones set,
    ``input`` as stdin; returns the exit status and what it printed and logged
    (stderr as the command's console shows it, tracebacks included). Serving,
    signals, pipes and the installed script need ``run_cli``."""
    from posplugin.cli import main

    out, err = io.StringIO(), io.StringIO()
    verbose = "-v" in args or "--verbose" in args
    # What main's logging.basicConfig would print, on stderr (pytest's own handlers
    # on the root logger make basicConfig do nothing here).
    console = logging.StreamHandler(err)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        with posplugin_environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                _stdin(input):
            try:
                status = main(list(args))
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except Exception:
                traceback.print_exc()
                status = 1
    finally:
        root.removeHandler(console)
        root.setLevel(level)
    return subprocess.CompletedProcess(["posplugin", *args], status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(text: str | None):
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved


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


PHONE = {"width": 360, "height": 740}


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


def join_on_page(page, phone: str, caplog) -> None:
    """Join on an open /join page as a customer does: ``phone``, the code the
    console sender logged for it, consent; returns on the last step."""
    join_to_consent(page, caplog, phone)
    page.click("#agree")
    page.wait_for_selector("#step-done:not([hidden])")


def hooks_folder(tmp_path: Path, **sources: str) -> Path:
    """A folder for the ``hooks_dir`` setting in ``tmp_path``, holding ``NAME.py`` for each ``NAME=source``."""
    folder = tmp_path / "hooks"
    folder.mkdir(exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    return folder


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


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (a supervisor's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def start_hq(data: Path, settings: dict, *, workers: int = 1, port: int | None = None, cwd: Path = REPO):
    """``posplugin hq serve --workers N`` on ``port`` (default: a free one) as
    its own process, in ``cwd`` (``data`` may be relative to it); returns
    (process, base URL) once every worker is up."""
    port = port or free_port()
    folder = Path(cwd, data)
    folder.mkdir(parents=True, exist_ok=True)
    # Its log goes to a file beside the data: a pipe nobody reads would stop a chatty server.
    log = open(folder.parent / f"hq-serve-{port}.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "posplugin", "hq", "serve", "--workers", str(workers), "--data",
                             str(data), "--port", str(port)], cwd=cwd, env=cli_env(**settings),
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    proc.log = Path(log.name)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while (workers > 1 and len(children(proc.pid)) < workers) or not _answers(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.log.read_text())
        time.sleep(0.1)
    return proc, base


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/hq/v1/openapi.json", timeout=5).status_code == 200
    except requests.RequestException:
        return False


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
        self.sessions: dict[int, str] = {}
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
        who, session = self.customers.verify_code("phone", phone, self.sent[-1][2])
        self.sessions[who.customer_id] = session
        if consented:
            self.customers.give_consent(who.customer_id, consent.VERSION, ["tiering"], "en")
        return who.customer_id

    def link(self, customer_id: int, name: str) -> None:
        """The customer links ``name``'s stand-in account, in their own session."""
        session = self.sessions[customer_id]
        url = self.accounts.start_link(customer_id, name, LINK_REDIRECT.format(name), session=session)
        back = parse_qs(urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"]).query)
        self.accounts.finish_link(name, back["state"][0], back["code"][0], LINK_REDIRECT.format(name),
                                  session=session)

    def read_handles(self, standins) -> None:
        """Let head office read public handles (business_discovery) with the
        chain's own professional account: a customer links it, its token is used."""
        from sqlalchemy import select

        from posplugin.hq.schema import linked_accounts
        chain = self.join("+47 900 00 099", consented=False)
        standins.login_as["instagram"] = "17841400000000099"
        self.link(chain, "instagram")
        standins.login_as.clear()
        with self.office.engine.connect() as conn:
            sealed = conn.execute(select(linked_accounts.c.token)
                                  .where(linked_accounts.c.customer_id == chain)).scalar_one()
        self.platforms["instagram"].discovery_token = self.collector.vault.open(sealed)["access_token"]

    def account(self, customer_id: int, name: str) -> dict:
        return next(a for a in self.accounts.of_customer(customer_id) if a["platform"] == name)


@contextlib.contextmanager
def served_stand_in(state, create_app):
    """``state`` served by ``create_app(state)`` on 127.0.0.1 (its ``.url`` set) while the block runs."""
    from posplugin.web.server import BackgroundServer

    server = BackgroundServer(create_app(state)).start()
    state.url = server.url
    try:
        yield state
    finally:
        server.stop()


@contextlib.contextmanager
def customer_page(browser, server, http, viewport=None):
    """A Chromium page on ``server`` signed in as the customer of ``http`` (a
    phone's screen unless ``viewport`` says), closed after the block."""
    from posplugin.hq.web.join import COOKIE

    context = browser.new_context(viewport=viewport or {"width": 390, "height": 844})
    try:
        context.add_cookies([{"name": COOKIE, "value": http.cookies[COOKIE], "url": server.url}])
        yield context.new_page()
    finally:
        context.close()


def joined_customer(server, caplog, phone="+47 412 34 567", scopes=("tiering",), link="instagram"):
    """A requests session of a customer who joined on ``server`` (code from
    the console sender), consented to ``scopes`` and linked ``link`` through
    its stand-in platform, which head office has then measured."""
    from posplugin.hq.web.join import customer_side

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
        assert customer_side(server.app).collector.run().measured >= 1
    return http


# -- pages at their users' screens ---------------------------------------------------

# The screens the pages are used on: a till-side screen, a small tablet in
# landscape, a tablet either way, a laptop, a phone.
SCREENS = {"480x320": {"width": 480, "height": 320}, "800x480": {"width": 800, "height": 480},
           "1024x768": {"width": 1024, "height": 768}, "768x1024": {"width": 768, "height": 1024},
           "1366x768": {"width": 1366, "height": 768}, "390x844": {"width": 390, "height": 844}}


def each_screen(page, output_dir=None, name="page", full_page=False):
    """Resize ``page`` to each of :data:`SCREENS` in turn, yielding its
    viewport; a screenshot of each goes to ``output_dir`` before the caller's
    checks, so a failing size can be looked at (``name-WIDTHxHEIGHT.png``)."""
    for label, viewport in SCREENS.items():
        page.set_viewport_size(viewport)
        # Let the page's resize handlers and a frame of layout run.
        page.evaluate("new Promise((done) => requestAnimationFrame(() => setTimeout(done, 200)))")
        if output_dir is not None:
            page.screenshot(path=str(output_dir / f"{name}-{label}.png"), full_page=full_page)
        yield viewport


def box_in_view(page, selector, viewport):
    """The element's box, asserted to lie inside the viewport without scrolling."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 0.5, (selector, viewport, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (selector, viewport, box)
    return box


def no_horizontal_overflow(page, viewport):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"page is {width} px wide in a {viewport['width']} px window"


def font_px(page, selector) -> float:
    """The computed font size of the first element ``selector`` matches, in CSS pixels."""
    return page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)")


# One date format per language (the catalogues' date.format), on every page.
DATE = {"en": r"\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b",
        "nb": r"\b\d{1,2}\. (?:jan\.|feb\.|mars|apr\.|mai|juni|juli|aug\.|sep\.|okt\.|nov\.|des\.) \d{4}\b"}
# Dates in any other shape: 12/2/2026, 02.12.2026, 2026-12-02, 5:33:39 PM.
OTHER_DATES = r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b[AP]M\b"


def english_only_words() -> set[str]:
    """Words of the English catalogues (pages and prompts) that no Norwegian
    text uses: any of them on a Norwegian page was left untranslated."""
    root = Path(__file__).resolve().parent.parent
    texts = {}
    for lang in ("en", "nb"):
        words = set()
        for folder in (root / "static" / "locales", root / "posplugin" / "locales"):
            import json
            for value in json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")).values():
                words |= {w.lower() for w in re.findall(r"[A-Za-zÆØÅæøå]{4,}", value)}
        texts[lang] = words
    return texts["en"] - texts["nb"]


def english_left_over(text: str, english: set[str]) -> list[str]:
    """The English-only words in ``text`` (a page's innerText)."""
    return sorted({w for w in re.findall(r"[A-Za-zÆØÅæøå]{4,}", text) if w.lower() in english})


def join_to_consent(page, caplog, phone: str = "+47 412 34 567") -> None:
    """On an open /join page: the phone number, then the code the console sender
    logged; returns at the consent step."""
    page.wait_for_selector("#step-identify:not([hidden])")
    page.fill("#identifier", phone)
    page.click("#identify-form button[type=submit]")
    page.wait_for_selector("#step-code:not([hidden])")
    page.fill("#code", join_code(caplog, phone[-2:]))
    page.click("#code-form button[type=submit]")
    page.wait_for_selector("#step-consent:not([hidden])")


def heard_from(server, http, posts, store="Storgata") -> list[int]:
    """Listening keeps ``posts`` (their texts) as posts from the linked account of the
    customer signed in on ``http`` (who consented to listening), about
    ``store``, the first the newest; returns their heard ids."""
    from posplugin.hq.listening.posts import Post
    from posplugin.hq.web.join import COOKIE, customer_side
    from posplugin.hq.web.listening import HUB

    listening = server.app.extensions[HUB].listening
    customer = customer_side(server.app).page.source.signed_in(http.cookies[COOKIE]).customer_id
    listening.placements.set(store, place=store)
    ids = []
    for n, words in enumerate(posts):
        post = Post("instagram", f"sam-{n}-{time.monotonic_ns()}", f"https://instagram.com/p/sam{n}", words,
                    listening.clock() - 60 - n, customer_id=customer, store=store)
        ids.append(listening.hear(post)["id"])
    return ids
