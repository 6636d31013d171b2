"""The store's commands: ``serve``, ``token``, ``tiers``, ``queues``, ``sync``,
``plugins``, ``pair`` and ``config``."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time

from .. import __version__, config, datalock, texts
from ..errors import ConfigError
from ..plugins import Plugins
from ..store import auth
from ..store.schema import open_database
from ..tiers import health as tier_health
from ..tiers.csvfile import open_csv
from ..tiers.identity import Hasher
from ..tiers.lists import TierLists, import_csv
from ..timeutil import iso
from .common import command, group, log, server_options, settings
from .pairing import LOOPBACK, base_url, pairing_url, terminal_qr

# The commands that serve or sync import the service, Flask and aiohttp
# themselves: a token or a tier import starts without them.


def register(commands) -> None:
    server_options(command(commands, "serve", "run the store service", serve), 8765)

    tokens = group(commands, "token", "API tokens")
    p = command(tokens, "create", "print a new token, alone on stdout", token_create)
    p.add_argument("--role", required=True, choices=auth.ROLES)
    p.add_argument("--name", required=True, help="who or what uses it, e.g. till-3")
    command(tokens, "list", "list tokens (never the tokens themselves)", token_list)
    command(tokens, "revoke", "revoke tokens by name", token_revoke).add_argument("--name", required=True)

    tiers = group(commands, "tiers", "tier lists")
    p = command(tiers, "import", "load a tier list CSV; prints rows loaded", tiers_import)
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--skip-bad", action="store_true",
                   help="load the good rows even when some rows are bad (they are listed)")
    p.add_argument("--allow-smaller", action="store_true",
                   help="replace the list even with an empty one, or one that lost more than tiers_max_loss "
                        "of the current list's rows")
    command(tiers, "status", "the list in use: version, rows, age, source (exit 1 with a warning)", tiers_status)
    p = command(tiers, "lookup", "what identify would answer for one identifier (no visit recorded)",
                tiers_lookup)
    p.add_argument("value", help="the identifier as a till sends it, e.g. '412 34 567' or a@b.com")
    p.add_argument("--type", default="phone", choices=("phone", "email", "loyalty_id", "card_token", "handle"),
                   help="identifier type (default phone)")

    p = command(group(commands, "key", "the chain's identifier key"), "create",
                "print a new identifier key (for id_key / POSPLUGIN_ID_KEY), alone on stdout", key_create,
                data=False)

    p = command(group(commands, "queues", "queue history"), "import",
                "back-fill queue history from lane,at,length rows", queues_import)
    p.add_argument("file", metavar="FILE.csv")

    command(commands, "plugins", "list the loaded hooks", plugins)

    p = command(commands, "sync", "pull the tier list from head office", sync)
    p.add_argument("--once", action="store_true", help="one pull; exit non-zero when anything was refused")
    p.add_argument("--nice", action="store_true", help="run at a lower CPU priority (serve's background sync)")

    p = command(commands, "pair", "a URL and QR code that pairs a tablet or till page", pair)
    p.add_argument("--role", required=True, choices=("staff", "till"))
    p.add_argument("--lane", help="the lane of a till page")
    p.add_argument("--name", help="token name (default: role and time)")
    p.add_argument("--url", help="the service as the device reaches it (default: this machine's name and port)")

    command(commands, "config", "show the settings in effect (secrets masked)", show_config)


def serve(args) -> int:
    from ..store.service import Store
    from ..store.web.app import create_app
    from ..web.server import Housekeeper, listen, run_service

    s = settings(args)
    config.require_id_key(s)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    lock = datalock.hold(s.data_dir)
    store = Store(s)
    app = create_app(store=store)
    housekeeper = Housekeeper([store.purge, store.tiers.cleanup])
    housekeeper.start()
    ticker = Housekeeper([store.tick], interval_s=15, name="posplugin-ticker")
    ticker.start()
    if s.hq_url:
        # Only a store with a head office loads what talks to it (requests,
        # the feed's signatures): 13 MB a store on its own never needs.
        from ..store import heard
        from ..store.sync import session as sync_session
        from ..store.sync import sync_in_child

        # Sync in the background, in a child process: lookups never wait for
        # it, and a failure leaves the last good list serving until the next round.
        Housekeeper([lambda: sync_in_child(s.data_dir)], interval_s=s.sync_interval_s,
                    name="posplugin-sync", jitter=0.2).start()
        # What customers post about this store: a short conditional poll of its own,
        # in this process (it only makes prompts), so the floor hears within a minute.
        heard_http = sync_session()
        Housekeeper([lambda: heard.poll(store, heard_http)], interval_s=s.heard_poll_s,
                    name="posplugin-heard", jitter=0.2).start()
    sock = listen(s.host, s.port)
    port = sock.getsockname()[1]
    datalock.announce(s.data_dir, s.host, port)  # `posplugin pair` asks here where the service is
    info = store.tiers.info()
    log.info("posplugin %s serving on http://%s:%s (data %s, tier list version %s, %s rows)",
             __version__, s.host, port, s.data_dir, info.version, info.rows)
    for warning in tier_health.warnings(info):
        log.warning("%s%s", warning, " (head office's list arrives with the first sync)" if s.hq_url else "")

    def stop():
        housekeeper.stop()
        ticker.stop()
        store.close()  # writes the visits still queued
        lock.release()

    return run_service(sock, lambda: (app, stop), threads=s.threads, per_address=s.max_connections_per_address)


def token_create(args) -> int:
    db = open_database(settings(args).db_path)
    with db.write() as conn:
        token = auth.create_token(conn, args.role, args.name)
    print(token)
    return 0


def token_list(args) -> int:
    db = open_database(settings(args).db_path)
    for t in auth.list_tokens(db):
        state = f"revoked {iso(t['revoked_at'])}" if t["revoked_at"] else "active"
        print(f"{t['id']}\t{t['role']}\t{t['name']}\tcreated {iso(t['created_at'])}\t{state}")
    return 0


def token_revoke(args) -> int:
    db = open_database(settings(args).db_path)
    with db.write() as conn:
        count = auth.revoke_token(conn, args.name)
    print(f"revoked {count} token(s) named {args.name!r}", file=sys.stderr)
    return 0 if count else 1


def tiers_import(args) -> int:
    s = settings(args)
    config.require_id_key(s)
    lists = TierLists(open_database(s.db_path))
    with open_csv(args.file) as stream:
        result = import_csv(lists, stream, Hasher(s.id_key, s.default_region), skip_bad=args.skip_bad,
                            max_loss=None if args.allow_smaller else s.tiers_max_loss)
    for line, reason in result.skipped:
        print(f"skipped line {line}: {reason}", file=sys.stderr)
    if result.skipped_total > len(result.skipped):
        print(f"... and {texts.count(result.skipped_total - len(result.skipped), 'more row')} skipped",
              file=sys.stderr)
    print(f"{texts.count(result.rows, 'row')} loaded (version {result.version}; "
          f"{texts.count(result.opted_out, 'customer')} opted out, "
          f"{texts.count(result.duplicates, 'duplicate')} merged)")
    return 0


def tiers_status(args) -> int:
    lists = TierLists(open_database(settings(args).db_path))
    info = lists.info()
    for line in tier_health.status_lines(info, time.time()):
        print(line)
    return 1 if tier_health.warnings(info) else 0


def tiers_lookup(args) -> int:
    from ..store.service import Store

    s = settings(args)
    config.require_id_key(s)
    store = Store(s)
    try:
        answer = store.preview(args.type, args.value)
    finally:
        store.close()
    print(json.dumps(answer, ensure_ascii=False))
    return 0


def key_create(args) -> int:
    print(secrets.token_hex(32))
    print("Give every store and head office this same key (id_key in posplugin.ini or POSPLUGIN_ID_KEY); "
          "keep it secret, and never change it once lists are hashed with it.", file=sys.stderr)
    return 0


def queues_import(args) -> int:
    from ..store.service import Store

    store = Store(settings(args))
    try:
        with open_csv(args.file) as stream:
            loaded = store.queues.import_csv(stream)
    finally:
        store.close()
    print(f"{texts.count(loaded, 'reading')} loaded")
    return 0


def sync(args) -> int:
    from ..store.service import Store
    from ..store.sync import sync_once

    if args.nice and hasattr(os, "nice"):
        os.nice(10)
    store = Store(settings(args))
    try:
        while True:
            result = sync_once(store)
            print(f"{result.status}: {result.message}")
            if args.once:
                return 0 if result.ok else 1
            time.sleep(store.settings.sync_interval_s)
    finally:
        store.close()


def plugins(args) -> int:

    loaded = Plugins(settings(args))
    for name, hooks in loaded.names():
        print(f"{name}\t{', '.join(hooks) or '(no hooks)'}")
    for error in loaded.errors:
        print(error, file=sys.stderr)
    return 1 if loaded.errors else 0


def pair(args) -> int:
    s = settings(args)
    if not args.url:
        # The service as it runs now (its port may be one --port 0 picked), never a guess from settings.
        running = datalock.serving(s.data_dir)
        if running is None:
            raise ConfigError([f"no posplugin serve is running for {s.data_dir}: start it first "
                               f"(posplugin serve --data {s.data_dir} --host 0.0.0.0), then pair; or give the "
                               "address devices use with --url (e.g. --url http://store-pc:8765)"])
        s = s.replace(host=running["host"], port=running["port"])
    db = open_database(s.db_path)
    name = args.name or f"{args.role}-device-{time.strftime('%Y%m%d-%H%M%S')}"
    with db.write() as conn:
        token = auth.create_token(conn, args.role, name)
    url = pairing_url(args.url, s, args.role, token, args.lane)
    print(url)
    print(terminal_qr(url))
    if not args.url:
        base, how = base_url(s)
        print(f"The address is {base}: {how}, where the running serve listens. If the device reaches this "
              "service another way, pass --url (e.g. --url http://store-pc:8765).", file=sys.stderr)
        if s.host in LOOPBACK:
            print(f"serve listens on {s.host} only: start it with --host 0.0.0.0 (or set host) "
                  "so that devices on the network can reach it.", file=sys.stderr)
    print(f"Open the URL (or scan the code) on the device. Token name: {name} "
          f"(revoke with: posplugin token revoke --name {name})", file=sys.stderr)
    return 0


def show_config(args) -> int:
    s = settings(args)
    shown = config.describe(s)
    helps = {name: help for name, _, help in config.explain()}
    for name, value in shown.items():
        source = s.sources.get(name, "default") if name in helps else "--data, POSPLUGIN_DATA or ./data"
        print(f"{name} = {value}    # from {source}" + (f"; {helps[name]}" if name in helps else ""))
    return 0
