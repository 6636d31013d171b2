"""The ``posplugin`` command line. Each command is a small function over the
domain modules; argument parsing stays here."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__, config, datalock
from ..errors import ConfigError, ImportRefused, PospluginError
from ..web.server import stop_on_sigterm

log = logging.getLogger("posplugin")
DESCRIPTION = "A store's local service: influence-aware service prompts at the till, queue pain points on the floor."


def _settings(args, **overrides) -> config.Settings:
    host = getattr(args, "host", None)
    port = getattr(args, "port", None)
    return config.load(getattr(args, "data", None), host=host, port=port, **overrides)


def cmd_serve(args) -> int:
    from ..store.service import Store
    from ..web.app import create_app
    from ..web.server import Housekeeper, make_server

    settings = _settings(args)
    config.require_id_key(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = datalock.hold(settings.data_dir)
    store = Store(settings)
    app = create_app(store=store)
    housekeeper = Housekeeper([store.purge, store.tiers.cleanup])
    housekeeper.start()
    ticker = Housekeeper([store.tick], interval_s=15, name="posplugin-ticker")
    ticker.start()
    if settings.hq_url:
        from ..store.sync import sync_in_child
        # Sync in the background, in a child process: lookups never wait for
        # it, and a failure leaves the last good list serving until the next round.
        Housekeeper([lambda: sync_in_child(settings.data_dir)], interval_s=settings.sync_interval_s,
                    name="posplugin-sync", jitter=0.2).start()
    server = make_server(app, settings.host, settings.port, settings.threads, settings.max_streams)
    info = store.tiers.info()
    log.info("posplugin %s serving on http://%s:%s (data %s, tier list version %s, %s rows)",
             __version__, settings.host, server.effective_port, settings.data_dir,
             info.version, info.rows)
    def stop():
        housekeeper.stop()
        ticker.stop()
        store.close()  # writes the visits still queued
        lock.release()

    return _run(server, stop)


def _run(server, cleanup=lambda: None) -> int:
    """Serve until Ctrl-C or SIGTERM, then close the server and clean up."""
    stop_on_sigterm()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        cleanup()
        log.info("posplugin stopped")
    return 0





def cmd_token_create(args) -> int:
    from ..store import auth
    from ..store.schema import open_database

    settings = _settings(args)
    db = open_database(settings.db_path)
    with db.write() as conn:
        token = auth.create_token(conn, args.role, args.name)
    print(token)
    return 0


def cmd_token_list(args) -> int:
    from ..store import auth
    from ..store.schema import open_database
    from ..timeutil import iso

    db = open_database(_settings(args).db_path)
    for t in auth.list_tokens(db.conn):
        state = f"revoked {iso(t['revoked_at'])}" if t["revoked_at"] else "active"
        print(f"{t['id']}\t{t['role']}\t{t['name']}\tcreated {iso(t['created_at'])}\t{state}")
    return 0


def cmd_token_revoke(args) -> int:
    from ..store import auth
    from ..store.schema import open_database

    db = open_database(_settings(args).db_path)
    with db.write() as conn:
        count = auth.revoke_token(conn, args.name)
    print(f"revoked {count} token(s) named {args.name!r}", file=sys.stderr)
    return 0 if count else 1


def cmd_tiers_import(args) -> int:
    from ..store.schema import open_database
    from ..tiers.identity import Hasher
    from ..tiers.lists import TierLists, import_csv, open_text

    settings = _settings(args)
    config.require_id_key(settings)
    lists = TierLists(open_database(settings.db_path))
    with open_text(args.file) as stream:
        result = import_csv(lists, stream, Hasher(settings.id_key, settings.default_region),
                            skip_bad=args.skip_bad)
    for line, reason in result.skipped:
        print(f"skipped line {line}: {reason}", file=sys.stderr)
    print(f"{result.rows} rows loaded (version {result.version}; {result.opted_out} opted out, "
          f"{result.duplicates} duplicates merged)")
    return 0


def cmd_queues_import(args) -> int:
    from ..store.service import Store
    from ..tiers.lists import open_text

    store = Store(_settings(args))
    with open_text(args.file) as stream:
        loaded = store.queues.import_csv(stream)
    print(f"{loaded} readings loaded")
    return 0


def cmd_sync(args) -> int:
    import time as _time

    from ..store.service import Store
    from ..store.sync import sync_once

    if args.nice and hasattr(os, "nice"):
        os.nice(10)
    store = Store(_settings(args))
    while True:
        result = sync_once(store)
        print(f"{result.status}: {result.message}")
        if args.once:
            return 0 if result.ok else 1
        _time.sleep(store.settings.sync_interval_s)


def _office(args):
    from ..hq.office import HeadOffice

    settings = _settings(args)
    return HeadOffice(settings.data_dir, settings.id_key, default_region=settings.default_region,
                      timezone=settings.tz(), stale_after_s=3 * settings.sync_interval_s)


def cmd_hq_serve(args) -> int:
    from ..hq.web import create_hq_app
    from ..web.server import make_server

    settings = _settings(args)
    office = _office(args)
    server = make_server(create_hq_app(office, language=settings.language), settings.host, args.port or 8766, settings.threads)
    log.info("posplugin head office on http://%s:%s (data %s); stores verify with %s",
             settings.host, server.effective_port, settings.data_dir, office.public_key)
    return _run(server)


def cmd_hq_import(args) -> int:
    from ..tiers.lists import open_text

    settings = _settings(args)
    config.require_id_key(settings)
    with open_text(args.file) as stream:
        result = _office(args).import_csv(stream)
    delta = result["delta"]
    print(f"{result['rows']} rows loaded as version {result['version']}"
          + (f" (delta: {delta['upserts']} added or changed, {delta['deletes']} removed)" if delta else ""))
    return 0


def cmd_hq_store_add(args) -> int:
    print(_office(args).create_token("store", args.name))
    return 0


def cmd_hq_token_create(args) -> int:
    print(_office(args).create_token(args.role, args.name))
    return 0


def cmd_hq_token_revoke(args) -> int:
    count = _office(args).revoke_tokens(args.name)
    print(f"revoked {count} token(s) named {args.name!r}", file=sys.stderr)
    return 0 if count else 1


def cmd_hq_public_key(args) -> int:
    print(_office(args).public_key)
    return 0


def cmd_plugins(args) -> int:
    from ..plugins import Plugins

    plugins = Plugins(_settings(args))
    for name, hooks in plugins.names():
        print(f"{name}\t{', '.join(hooks) or '(no hooks)'}")
    for error in plugins.errors:
        print(error, file=sys.stderr)
    return 1 if plugins.errors else 0


def cmd_pair(args) -> int:
    from ..store import auth
    from ..store.schema import open_database
    from .pairing import pairing_url, terminal_qr

    settings = _settings(args)
    db = open_database(settings.db_path)
    name = args.name or f"{args.role}-device-{__import__('time').strftime('%Y%m%d-%H%M%S')}"
    with db.write() as conn:
        token = auth.create_token(conn, args.role, name)
    url = pairing_url(args.url, settings, args.role, token, args.lane)
    print(url)
    print(terminal_qr(url))
    print(f"Open the URL (or scan the code) on the device. Token name: {name} "
          f"(revoke with: posplugin token revoke --name {name})", file=sys.stderr)
    return 0


def cmd_config(args) -> int:
    for name, value in config.describe(_settings(args)).items():
        print(f"{name} = {value}")
    return 0


def cmd_demo(args) -> int:
    from ..demo import run as demo
    return demo.run(data=args.data, port=args.port, host=args.host, duration=args.duration,
                    seed=args.seed, pace_s=args.pace)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posplugin", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"posplugin {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent, name, help, func, *, data=True):
        """A subcommand running ``func``, with --data unless told otherwise."""
        p = parent.add_parser(name, help=help)
        if data:
            p.add_argument("--data", metavar="DIR", help="data folder (default $POSPLUGIN_DATA or ./data)")
        p.set_defaults(func=func)
        return p

    def group(name, help):
        return commands.add_parser(name, help=help).add_subparsers(dest="action", required=True)

    def server(p, port):
        p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=None, help=f"port (default {port})")

    server(command(commands, "serve", "run the store service", cmd_serve), 8765)

    token = group("token", "API tokens")
    p = command(token, "create", "print a new token, alone on stdout", cmd_token_create)
    p.add_argument("--role", required=True, choices=("till", "queue", "staff", "admin"))
    p.add_argument("--name", required=True, help="who or what uses it, e.g. till-3")
    command(token, "list", "list tokens (never the tokens themselves)", cmd_token_list)
    command(token, "revoke", "revoke tokens by name", cmd_token_revoke).add_argument("--name", required=True)

    p = command(group("tiers", "tier lists"), "import", "load a tier list CSV; prints rows loaded",
                cmd_tiers_import)
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--skip-bad", action="store_true",
                   help="load the good rows even when some rows are bad (they are listed)")

    p = command(group("queues", "queue history"), "import",
                "back-fill queue history from lane,at,length rows", cmd_queues_import)
    p.add_argument("file", metavar="FILE.csv")

    command(commands, "plugins", "list the loaded hooks", cmd_plugins)

    p = command(commands, "sync", "pull the tier list from head office", cmd_sync)
    p.add_argument("--once", action="store_true", help="one pull; exit non-zero when anything was refused")
    p.add_argument("--nice", action="store_true", help="run at a lower CPU priority (serve's background sync)")

    hq = group("hq", "head office")
    p = command(hq, "serve", "run the head office service", cmd_hq_serve)
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8766)")
    command(hq, "import", "make a new tier-list version from a CSV", cmd_hq_import).add_argument(
        "file", metavar="FILE.csv")
    store_cmd = hq.add_parser("store", help="stores").add_subparsers(dest="store_action", required=True)
    command(store_cmd, "add", "add a store; prints its token", cmd_hq_store_add).add_argument("name")
    hq_token = hq.add_parser("token", help="head office tokens").add_subparsers(dest="token_action",
                                                                                 required=True)
    p = command(hq_token, "create", "print a new head office token", cmd_hq_token_create)
    p.add_argument("--role", required=True, choices=("admin",))
    p.add_argument("--name", required=True)
    command(hq_token, "revoke", "revoke a store's or an admin's tokens by name",
            cmd_hq_token_revoke).add_argument("--name", required=True)
    command(hq, "public-key", "print the key stores verify lists with", cmd_hq_public_key)

    p = command(commands, "pair", "a URL and QR code that pairs a tablet or till page", cmd_pair)
    p.add_argument("--role", required=True, choices=("staff", "till"))
    p.add_argument("--lane", help="the lane of a till page")
    p.add_argument("--name", help="token name (default: role and time)")
    p.add_argument("--url", help="the service as the device reaches it (default: this machine's name and port)")

    command(commands, "config", "show the settings in effect (secrets masked)", cmd_config)

    p = command(commands, "demo", "a whole store with simulated traffic", cmd_demo, data=False)
    p.add_argument("--data", metavar="DIR", help="keep the demo's data here (default: a temporary folder)")
    server(p, 8765)
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=42, help="seed for the made-up customers and traffic")
    p.add_argument("--pace", type=float, default=3.0, help="seconds between customers at the tills")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"posplugin: configuration: {problem}", file=sys.stderr)
        return 2
    except ImportRefused as exc:
        print(f"posplugin: refused: {exc.message}", file=sys.stderr)
        return 1
    except PospluginError as exc:
        print(f"posplugin: {exc.message}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"posplugin: no such file: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
