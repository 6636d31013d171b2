"""``posplugin demo``: a whole store on an embedded default, with simulated traffic.

Everything is made up and deterministic for a seed: the identifier key, a tier
list of about 10,000 fake customers across all tiers, tokens, and a till that
identifies customers every few seconds over real HTTP. Head office runs too,
on its own port and data folder: it publishes the list, the store syncs it
over HTTP (verified, by delta after the first time), and the store's outcomes
fill the head office page.
"""

from __future__ import annotations

import configparser
import io
import logging
import os
import random
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from .. import config, datalock, texts
from ..errors import ConfigError
from ..hq.office import HeadOffice
from ..hq.web.app import create_hq_app
from ..store import auth
from ..store.service import Store
from ..store.sync import sync_once
from ..store.web.app import create_app
from ..web.server import BackgroundServer, Housekeeper, stop_on_sigterm
from . import joiners
from .data import (
    banner_customer,
    publish,
    queue_history_csv,
    synthetic_customers,
)
from .experiment import run_demo_experiment
from .narrator import Narrator, shift_figures, shift_summary
from .listening import DemoListening, simulate_listening
from .passes import pass_line, simulate_pass
from .traffic import (
    DEMO_SYNC_S,
    QMINDER_LINES,
    QMINDER_URL,
    SQUARE_DEVICES,
    SQUARE_URL,
    narrate_queues,
    simulate_adapters,
    simulate_head_office,
    simulate_queues,
    simulate_staff,
    simulate_till,
)
from .world import DemoStore

HQ_PORT = 8766
# What a demo data folder's posplugin.ini gets when it does not say otherwise.
# A short calm period so a visitor sees pain prompts close within a minute, and
# after-sale invitations that expire in 5 minutes (a sale every few seconds
# would otherwise fill the floor's list with half an hour of them). The
# demo's time runs fast (a customer every few seconds, Qminder calling tickets
# seconds apart, from which lanes learn their service time): a matching
# starting service time keeps lanes that have not learned yet comparable with
# those that have, so no two tiles' waits disagree wildly.
DEMO_SETTINGS = {"default_region": "NO", "timezone": "Europe/Oslo", "rate_limit_per_s": "0",
                 "pain_calm_s": "20", "service_time_s": "20", "amplify_expire_minutes": "5",
                 "heard_poll_s": "1"}


def _serve(app, host: str, port: int, flag: str, language: str, threads: int = 8) -> BackgroundServer:
    """Serve on ``port`` (0: any free port); a taken port is refused, never moved silently."""
    try:
        return BackgroundServer(app, host, port, threads).start()
    except OSError:
        raise ConfigError([texts.say("demo.port_taken", language, port=port, host=host, flag=flag)]) from None


def _check_free(host: str, port: int, flag: str, language: str) -> None:
    """Refuse a taken port at once, before head office and the store start."""
    if not port:
        return
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise ConfigError([texts.say("demo.port_taken", language, port=port, host=host, flag=flag)]) from None


def start_head_office(data_dir: Path, settings, host: str, port: int, customers) -> tuple:
    """Head office in ``data_dir/hq`` with the demo list published and
    listening on stand-ins; returns (office, server, store token, admin token, listening)."""
    office = HeadOffice(data_dir / "hq", settings.id_key, default_region=settings.default_region,
                        timezone=settings.tz(), stale_after_s=3 * DEMO_SYNC_S)
    listening = DemoListening.open(office, settings)
    try:
        server = _serve(create_hq_app(office, language=settings.language, hub=listening.hub,
                                      **joiners.customer_side()), host, port, "--hq-port", settings.language)
    except ConfigError:
        listening.stop()
        office.close()
        raise
    if office.latest() is None:
        publish(office, customers)
    return (office, server, office.create_token("store", "demo-store"), office.create_token("admin", "demo-admin"),
            listening)


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
    extra.setdefault("square_devices", ", ".join(f"{device}={name.split()[-1]}" for device, name in SQUARE_DEVICES
                                                 if name.split()[-1].isdigit()))
    return {"plugins": ", ".join(plugins), "extra": extra}


def prepare_ini(data_dir: Path, environ) -> None:
    """Give the data folder's posplugin.ini what the demo needs and it lacks:
    an identifier key (unless the environment gives one) and the demo's
    defaults. Settings the file already has are kept as they are."""
    ini = data_dir / config.INI_NAME
    parser = configparser.ConfigParser(interpolation=None)
    if ini.exists():
        parser.read(ini, encoding="utf-8")
    if not parser.has_section(config.SECTION):
        parser.add_section(config.SECTION)
    section = parser[config.SECTION]
    wanted = dict(DEMO_SETTINGS)
    if not environ.get(config.ENV_PREFIX + "ID_KEY"):
        wanted["id_key"] = secrets.token_hex(32)
    missing = {k: v for k, v in wanted.items() if k not in section}
    if missing or not ini.exists():
        section.update(missing)
        with open(ini, "w", encoding="utf-8") as f:
            parser.write(f)


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 8765, seed: int = 42, *,
          hq_port: int | None = None, language: str | None = None, environ=None) -> DemoStore:
    """Set up a demo store and its head office in ``data_dir`` (reused if it
    exists), sync the store's list from head office, and start serving.
    Settings come as for every command (the data folder's posplugin.ini, then
    ``POSPLUGIN_*``, then ``language``); a taken port raises :class:`ConfigError`."""
    environ = os.environ if environ is None else environ
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = datalock.hold(data_dir, "demo")
    try:
        prepare_ini(data_dir, environ)
        settings = config.load(data_dir, environ=environ, language=language)
        config.require_id_key(settings)
        customers = synthetic_customers(seed=seed)
        hq_port = (HQ_PORT if port else 0) if hq_port is None else hq_port
        _check_free(host, port, "--port", settings.language)  # before anything starts
        office, hq_server, store_token, hq_admin, listening = start_head_office(data_dir, settings, host, hq_port,
                                                                               customers)
    except BaseException:
        lock.release()
        raise
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
    try:
        server = _serve(create_app(store=store), host, port, "--port", settings.language, settings.threads)
    except ConfigError:
        store.close()
        hq_server.stop()
        listening.stop()
        office.close()
        lock.release()
        raise
    datalock.announce(data_dir, host, server.port)  # `posplugin pair --data` finds the demo's store
    demo = DemoStore(data_dir, store, server, tokens, [c for c, _ in customers], banner_customer(customers)[0],
                     office, hq_server, hq_admin, lock=lock)
    ticker = Housekeeper([store.tick], interval_s=2, name="posplugin-demo-ticker")
    ticker.start()
    demo.housekeepers.append(ticker)
    listening.attach(demo)
    return demo


def banner(demo: DemoStore, log_path: Path | None = None, temporary: bool = False) -> str:
    """What the demo runs and where, in the store's language: ports, pages
    (paired), the customer's pages at head office, tokens and a ready curl line."""
    t, example, say = demo.tokens, demo.example, demo.narrator.say
    hq = demo.hq_server.url
    folder = say("demo.banner.temporary" if temporary else "demo.banner.kept", path=demo.data_dir)
    rows = [
        ("demo.banner.data", folder),
        *([("demo.banner.log", str(log_path))] if log_path else []),
        ("demo.banner.service", demo.url), ("demo.banner.health", f"{demo.url}/healthz"),
        ("demo.banner.api", f"{demo.url}/api/v1/openapi.json"),
        ("demo.banner.queues", f"curl -s {demo.url}/api/v1/queues -H 'Authorization: Bearer {t['staff']}'"),
    ]
    pages = [("demo.banner.till", f"{demo.url}/till?lane=1#token={t['till']}"),
             ("demo.banner.floor", f"{demo.url}/floor#token={t['staff']}"),
             ("demo.banner.hq", f"{hq}/hq#token={demo.hq_admin}"),
             ("demo.banner.join", f"{hq}/join"), ("demo.banner.me", f"{hq}/me"),
             ("demo.banner.qminder", f"{demo.url}/hooks/qminder/tickets"),
             ("demo.banner.square", f"{demo.url}/hooks/square/payments")]
    tokens = [("demo.banner.tokens", "  ".join(f"{role}={t[role]}" for role in ("till", "staff", "queue", "admin")))]
    return "\n".join([
        say("demo.running"),
        "  " + say("demo.ports", store=demo.server.port, hq=demo.hq_server.port),
        *_aligned(say, rows, "  "),
        "  " + say("demo.banner.pages"),
        *_aligned(say, pages, "    "),
        *_aligned(say, tokens, "  "),
        "  " + say("demo.banner.try"),
        f"    curl -s -X POST {demo.url}/api/v1/identify -H 'Authorization: Bearer {t['till']}' \\",
        "      -H 'Content-Type: application/json' \\",
        f"      -d '{{\"lane\": \"3\", \"identifier\": {{\"type\": \"{example.id_type}\", "
        f"\"value\": \"{example.value}\"}}, \"display_name\": \"{example.name}\"}}'",
        *pass_line(demo),
        "  " + say("demo.stop"),
        "",
    ])


def _aligned(say, rows, indent: str) -> list[str]:
    """``(label key, value)`` rows as lines with the values in one column."""
    labels = [say(key) for key, _ in rows]
    width = max(map(len, labels), default=0)
    return [f"{indent}{label.ljust(width)}  {value}" for label, (_, value) in zip(labels, rows)]


def quiet_server_logs(path: Path) -> logging.Handler:
    """Send every log record (waitress's "client disconnected" and the like)
    to ``path`` instead of the console, so the console reads as the shift's story."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    return handler


def join_demo_customers(demo: DemoStore, seed: int) -> None:
    """A few customers join head office on /join (once per data folder)."""
    if demo.office.latest()["version"] == 1:
        joiners.join_customers(demo.hq_server, synthetic_customers(seed=seed), demo.office.hasher, demo.tell)


def run(data: str | None = None, host: str | None = None, port: int | None = None,
        duration: float | None = None, seed: int = 42, pace_s: float = 3.0, out=sys.stdout,
        hq_port: int | None = None, language: str | None = None) -> int:
    """Run the demo until Ctrl-C (or for ``duration`` seconds)."""
    temporary = data is None
    data_dir = Path(data) if data else Path(tempfile.mkdtemp(prefix="posplugin-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "demo.log"
    quiet_server_logs(log_path)
    try:
        demo = start(data_dir, host or "127.0.0.1", 8765 if port is None else port, seed,
                     hq_port=hq_port, language=language)
    except BaseException:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    # Ctrl-C at any moment from here (while customers join, say) ends the shift with its summary.
    demo.narrator = Narrator(out, demo.store.settings.language, zone=demo.store.settings.tz())
    stop_on_sigterm()
    threads: list[threading.Thread] = []
    started, since = time.monotonic(), demo.store.clock()
    try:
        # Codes for whoever joins on /join during the demo are told on the console.
        joiners.demo_codes(demo.hq_server).tell = demo.tell
        demo.narrator.write(banner(demo, log_path, temporary))
        run_demo_experiment(demo, synthetic_customers(seed=seed), seed, demo.tell)
        join_demo_customers(demo, seed)
        threads += [threading.Thread(target=target, args=args, daemon=True) for target, args in (
            (simulate_till, (demo, random.Random(seed), out, pace_s)),
            (simulate_staff, (demo, random.Random(seed + 5), out, pace_s)),
            (narrate_queues, (demo, out)),
            (simulate_queues, (demo, random.Random(seed + 1), out, pace_s)),
            (simulate_head_office, (demo, synthetic_customers(seed=seed), random.Random(seed + 2), out, pace_s)),
            (simulate_adapters, (demo, synthetic_customers(seed=seed), random.Random(seed + 3), out, pace_s)),
            (simulate_pass, (demo, random.Random(seed + 4), out, pace_s)),
            (simulate_listening, (demo, random.Random(seed + 6), out, pace_s)))]
        for thread in threads:
            thread.start()
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
            demo.narrator.tick()
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop.set()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(timeout=6)
        # The shift in one paragraph, from the store's own records.
        demo.narrator.write("\n" + shift_summary(shift_figures(demo.store, since), time.monotonic() - started,
                                                  demo.store.settings.language))
        sync_once(demo.store)  # the last outcomes reach head office before it stops
        demo.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0
