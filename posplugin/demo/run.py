"""``posplugin demo``: a whole store on an embedded default, with simulated traffic.

Everything is made up and deterministic for a seed: the identifier key, a tier
list of about 10,000 fake customers across all tiers, tokens, and a till that
identifies customers every few seconds over real HTTP. Head office runs too,
on its own port and data folder: it publishes the list, the store syncs it
over HTTP (verified, by delta after the first time), and the store's outcomes
fill the head office page.
"""

from __future__ import annotations

import io
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, datalock
from ..hq.office import HeadOffice
from ..hq.web import create_hq_app
from ..store import auth
from ..store.service import Store
from ..store.sync import sync_once
from ..web.app import create_app
from ..web.server import BackgroundServer, Housekeeper, stop_on_sigterm
from . import joiners
from .experiment import run_demo_experiment
from .data import (
    DemoCustomer,
    banner_customer,
    publish,
    queue_history_csv,
    synthetic_customers,
)
from .passes import pass_line, simulate_pass
from .traffic import (
    DEMO_SYNC_S,
    QMINDER_LINES,
    QMINDER_URL,
    SQUARE_URL,
    simulate_adapters,
    simulate_head_office,
    simulate_queues,
    simulate_till,
)


@dataclass
class DemoStore:
    """A running demo store and its head office: data folders, servers, tokens."""

    data_dir: Path
    store: Store
    server: BackgroundServer
    tokens: dict[str, str]
    customers: list[DemoCustomer]
    example: DemoCustomer
    office: HeadOffice | None = None
    hq_server: BackgroundServer | None = None
    hq_admin: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    housekeepers: list = field(default_factory=list)
    lock: object = None

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.stop.set()
        for keeper in self.housekeepers:
            keeper.stop()
        self.server.stop()
        self.store.close()
        if self.hq_server:
            self.hq_server.stop()
            self.office.close()
        if self.lock:
            self.lock.release()


def _serve(app, host: str, port: int, threads: int = 8, max_streams: int = 100) -> BackgroundServer:
    """Serve on ``port``, or on any free port when it is taken."""
    try:
        return BackgroundServer(app, host, port, threads, max_streams).start()
    except OSError:
        return BackgroundServer(app, host, 0, threads, max_streams).start()


def start_head_office(data_dir: Path, settings, host: str, port: int, customers) -> tuple:
    """Head office in ``data_dir/hq`` with the demo list published; returns
    (office, server, store token, admin token)."""
    office = HeadOffice(data_dir / "hq", settings.id_key, default_region=settings.default_region,
                        timezone=settings.tz(), stale_after_s=3 * DEMO_SYNC_S)
    if office.latest() is None:
        publish(office, customers)
    server = _serve(create_hq_app(office, language=settings.language, **joiners.customer_side()), host, port)
    return office, server, office.create_token("store", "demo-store"), office.create_token("admin", "demo-admin")


def demo_adapters(settings) -> dict:
    """Settings changes that enable the ``qminder`` and ``square`` plugins with
    fresh demo secrets (on top of whatever plugins the ini file names)."""
    plugins = [p.strip() for p in settings.plugins.split(",") if p.strip()]
    plugins += [p for p in ("qminder", "square") if p not in plugins]
    extra = dict(settings.extra)
    extra.setdefault("qminder_secret", secrets.token_hex(16))
    extra.setdefault("qminder_webhook_url", QMINDER_URL)
    extra.setdefault("qminder_lines", ", ".join(f"{line}={lane}" for line, lane in QMINDER_LINES.items()))
    extra.setdefault("square_signature_key", secrets.token_hex(16))
    extra.setdefault("square_notification_url", SQUARE_URL)
    return {"plugins": ", ".join(plugins), "extra": extra}


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 8765, seed: int = 42) -> DemoStore:
    """Set up a demo store and its head office in ``data_dir`` (reused if it
    exists), sync the store's list from head office, and start serving."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = datalock.hold(data_dir, "demo")
    ini = data_dir / config.INI_NAME
    if not ini.exists():
        # A short calm period so a visitor sees pain prompts close within a minute.
        ini.write_text(f"[posplugin]\nid_key = {secrets.token_hex(32)}\ndefault_region = NO\n"
                       "timezone = Europe/Oslo\nrate_limit_per_s = 0\npain_calm_s = 20\n",
                       encoding="utf-8")
    settings = config.load(data_dir, environ={})
    customers = synthetic_customers(seed=seed)
    office, hq_server, store_token, hq_admin = start_head_office(
        data_dir, settings, host, 8766 if port else 0, customers)
    settings = settings.replace(hq_url=hq_server.url, hq_token=store_token, hq_public_key=office.public_key,
                                sync_interval_s=DEMO_SYNC_S, **demo_adapters(settings))
    store = Store(settings)
    sync_once(store)
    if not store.queues.has_history():
        store.queues.import_csv(io.StringIO(queue_history_csv(store.clock(), weeks=4, seed=seed)))
    tokens = {}
    with store.db.write() as conn:
        for role in auth.ROLES:
            tokens[role] = auth.create_token(conn, role, f"demo-{role}")
    server = _serve(create_app(store=store), host, port, settings.threads, settings.max_streams)
    demo = DemoStore(data_dir, store, server, tokens, [c for c, _ in customers], banner_customer(customers)[0],
                     office, hq_server, hq_admin, lock=lock)
    ticker = Housekeeper([store.tick], interval_s=2, name="posplugin-demo-ticker")
    ticker.start()
    demo.housekeepers.append(ticker)
    return demo


def banner(demo: DemoStore) -> str:
    t = demo.tokens
    example = demo.example
    return "\n".join([
        "posplugin demo store is running",
        f"  data folder   {demo.data_dir}",
        f"  service       {demo.url}",
        f"  health        {demo.url}/healthz",
        f"  API document  {demo.url}/api/v1/openapi.json",
        f"  queues        curl -s {demo.url}/api/v1/queues -H 'Authorization: Bearer {t['staff']}'",
        "  pages (open in a browser; the token after # pairs the page):",
        f"    cashier's card, lane 1   {demo.url}/till?lane=1#token={t['staff']}",
        f"    floor tablet             {demo.url}/floor#token={t['staff']}",
        "  head office (signed tier lists out, the store's outcomes back):",
        f"    head office page         {demo.hq_server.url}/hq#token={demo.hq_admin}",
        "  vendor adapters (simulated, signed webhooks):",
        f"    Qminder queue tickets    {demo.url}/hooks/qminder/tickets",
        f"    Square payments          {demo.url}/hooks/square/payments",
        f"  tokens        till={t['till']}",
        f"                staff={t['staff']}",
        f"                queue={t['queue']}",
        f"                admin={t['admin']}",
        "  try it:",
        f"    curl -s -X POST {demo.url}/api/v1/identify -H 'Authorization: Bearer {t['till']}' \\",
        "      -H 'Content-Type: application/json' \\",
        f"      -d '{{\"lane\": \"3\", \"identifier\": {{\"type\": \"{example.id_type}\", "
        f"\"value\": \"{example.value}\"}}, \"display_name\": \"{example.name}\"}}'",
        *pass_line(demo),
        "  press Ctrl-C to stop",
        "",
    ])


def join_demo_customers(demo: DemoStore, seed: int, out) -> None:
    """A few customers join head office on /join (once per data folder)."""
    if demo.office.latest()["version"] == 1:
        joiners.join_customers(demo.hq_server, synthetic_customers(seed=seed), demo.office.hasher, out)


def run(data: str | None = None, host: str | None = None, port: int | None = None,
        duration: float | None = None, seed: int = 42, pace_s: float = 3.0, out=sys.stdout) -> int:
    """Run the demo until Ctrl-C (or for ``duration`` seconds)."""
    temporary = data is None
    data_dir = Path(data) if data else Path(tempfile.mkdtemp(prefix="posplugin-demo-"))
    demo = start(data_dir, host or "127.0.0.1", 8765 if port is None else port, seed)
    print(banner(demo), file=out, flush=True)
    run_demo_experiment(demo, synthetic_customers(seed=seed), seed, out)
    join_demo_customers(demo, seed, out)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in (
        (simulate_till, (demo, random.Random(seed), out, pace_s)),
        (simulate_queues, (demo, random.Random(seed + 1), out, pace_s)),
        (simulate_head_office, (demo, synthetic_customers(seed=seed), random.Random(seed + 2), out, pace_s)),
        (simulate_adapters, (demo, synthetic_customers(seed=seed), random.Random(seed + 3), out, pace_s)),
        (simulate_pass, (demo, random.Random(seed + 4), out, pace_s)))]
    for thread in threads:
        thread.start()
    stop_on_sigterm()
    try:
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop.set()
        for thread in threads:
            thread.join(timeout=6)
        sync_once(demo.store)  # the last outcomes reach head office before it stops
        demo.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
