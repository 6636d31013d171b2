"""``posplugin hq …``: the head office service, tier-list versions, store and
admin tokens, and the public key stores verify with."""

from __future__ import annotations

import json
import sys
from pathlib import Path
import unicodedata
from typing import TYPE_CHECKING

from .. import config, texts
from ..errors import ConfigError, NotFound
from ..tiers.csvfile import open_csv
from ..timeutil import iso
from .common import command, group, log, server_options, settings
from .pairing import terminal_qr

if TYPE_CHECKING:
    from ..hq.customer_side import CustomerSide
    from ..hq.office import HeadOffice

# Each command imports what it runs (SQLAlchemy and Alembic, Flask, aiohttp):
# `posplugin --help` and the store's commands start without head office's weight.

PORT = 8766


def register(commands) -> None:
    hq = group(commands, "hq", "head office")
    p = command(hq, "serve", "run the head office service", serve)
    server_options(p, PORT)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes serving head office on one port (needs hq_database_url; one on Windows)")
    p = command(hq, "import", "make a new tier-list version from a CSV, or apply a provider export", import_csv)
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--provider", default=None, metavar="hypeauditor|modash",  # checked by providers.import_export
                   help="the file is that provider's export for handles customers gave (then hq tiers build)")
    stores = group(hq, "store", "stores", dest="store_action")
    p = command(stores, "add", "add a store and print its token, or add every store of a CSV", store_add)
    p.add_argument("name", nargs="?", help="the store's name (one store; its token is printed)")
    p.add_argument("--from", dest="from_csv", metavar="STORES.csv",
                   help="add every store of this CSV (a name column) at once, all or none")
    p.add_argument("--tokens", metavar="FILE",
                   help="with --from: where the stores' tokens go, a new file only its owner can read "
                        "(default: STORES.tokens.csv beside the CSV)")
    placement_options(p)
    p = command(stores, "set", "change where a store is (for routing what customers post)", store_set)
    p.add_argument("name")
    placement_options(p)
    p = command(hq, "classify", "what a post is about, its tone, and why", classify)
    p.add_argument("text")
    p.add_argument("--language", help="en or nb (default: guessed from the text)")
    p = command(hq, "heard", "what was heard, per store, with response times", heard)
    p.add_argument("--store", help="one store")
    p.add_argument("--days", type=int, default=7, help="posted within this many days (default 7)")
    p.add_argument("--json", action="store_true", help="print JSON")
    tokens = group(hq, "token", "head office tokens", dest="token_action")
    p = command(tokens, "create", "print a new head office token", token_create)
    p.add_argument("--role", required=True, choices=("admin",))
    p.add_argument("--name", required=True)
    command(tokens, "revoke", "revoke a store's or an admin's tokens by name",
            token_revoke).add_argument("--name", required=True)
    command(hq, "public-key", "print the key stores verify lists with", public_key)
    command(hq, "migrate", "bring head office's database to this release's schema (serve does it at start); "
            "prints the revision", migrate)
    tiers = group(hq, "tiers", "tier-list versions from joined customers", dest="tiers_action")
    command(tiers, "build", "build a new signed version from everything consented and fresh",
            tiers_build).add_argument("--csv", metavar="FILE.csv",
                                      help="a tier CSV to build on (joined customers' figures and withdrawals win)")
    metrics = group(hq, "metrics", "linked accounts' metrics", dest="metrics_action")
    command(metrics, "status", "progress and failures of the metrics collector", metrics_status).add_argument(
        "--json", action="store_true", help="print JSON")
    command(metrics, "refresh", "refresh every linked account that is due, once", metrics_refresh)
    p = command(hq, "qr", "print the /join address and its QR code (receipts, shelf signs, the till card)", qr)
    p.add_argument("--for", dest="source", choices=("receipt", "shelf", "till"), default=None,
                   help="where the code is printed (added to the address)")
    p.add_argument("--svg", metavar="FILE", help="also write the QR code as an SVG for print")
    p.add_argument("--png", metavar="FILE", help="also write the QR code as a PNG")
    experiments = group(hq, "experiment", "the holdout experiment", dest="experiment_action")
    p = command(experiments, "start", "start a holdout experiment (the running one stops)", experiment_start)
    p.add_argument("name")
    p.add_argument("--share", type=float, required=True, help="share of customers held out, above 0 to 0.5")
    command(experiments, "stop", "stop the running experiment (its results stay)", experiment_stop)
    p = command(experiments, "status", "print an experiment's uplift for the chain", experiment_status)
    p.add_argument("name", nargs="?", help="default: the running one, else the latest")
    p.add_argument("--json", action="store_true", help="print every line (chain and stores) as JSON")


def office(args) -> HeadOffice:
    """The head office in the command's data folder."""
    from ..hq.office import HeadOffice

    s = settings(args)
    return HeadOffice(s.data_dir, s.id_key, default_region=s.default_region, timezone=s.tz(),
                      stale_after_s=3 * s.sync_interval_s, database_url=s.hq_database_url,
                      feed_store=s.feed_store, feed_base_url=s.feed_base_url)


def customer_side(args) -> tuple[HeadOffice, CustomerSide]:
    """The head office in the command's data folder, and its customer's side."""
    from ..hq.customer_side import CustomerSide

    hq = office(args)
    return hq, CustomerSide.open(hq, settings(args))


def serve(args) -> int:
    from ..web.server import listen, run_service

    s = settings(args)
    hq = office(args)  # the schema and the signing key, made once before any worker starts
    # The experiment settings start (or, with share 0, stop) an experiment once.
    hq.experiments.apply_settings(s.experiment, s.holdout_share)
    hq.close()
    workers = _workers(args.workers, s)
    sock = listen(s.host, args.port or PORT)
    log.info("posplugin head office on http://%s:%s (data %s%s); stores verify with %s", s.host,
             sock.getsockname()[1], s.data_dir, f", {workers} workers" if workers > 1 else "", hq.public_key)
    return run_service(sock, lambda: _serving(office(args), s, workers), threads=s.threads, workers=workers)


def _workers(asked: int, s) -> int:
    """How many processes serve head office: several only over PostgreSQL, and where processes can fork."""
    if asked < 1:
        raise ConfigError(["--workers must be at least 1"])
    if asked > 1 and not s.hq_database_url:
        raise ConfigError(["--workers N (several processes) needs head office on PostgreSQL: set "
                           "hq_database_url (postgresql://…); on hq.db head office runs one process"])
    from ..web.server import can_fork

    if asked > 1 and not can_fork():
        log.warning("--workers %s: several processes need fork, which Windows does not have; "
                    "serving with one process", asked)
        return 1
    return asked


def _serving(hq: HeadOffice, s, workers: int):
    """Head office's app, with its background worker (metrics collector,
    automatic builds, housekeeping) running in this process, and what stops
    them. With several processes each runs one: builds take the
    cross-process import lock; the listening sources run in whichever
    process takes the listening lock."""
    from ..hq.background import Worker
    from ..hq.customer_side import CustomerSide
    from ..hq.listening.hub import ListeningHub
    from ..hq.listening.outcomes import ListeningWork
    from ..hq.listening.runner import Runner
    from ..hq.web.app import create_hq_app
    from ..plugins import Plugins

    plugins = Plugins(s)
    hub = ListeningHub.open(hq, s, plugins=plugins)
    side = CustomerSide.open(hq, s)
    side.collector.on_posts = hub.linked_posts
    app = create_hq_app(hq, language=s.language, settings=s, workers=workers, side=side, hub=hub)
    listening = ListeningWork(hub, hq)
    worker = Worker(side.collector, side.builder, housekeeping=side.housekeeping() + listening.housekeeping()).start()
    runner = Runner(hub, hq.engine, hq.data_dir, clock=hq.clock).start()

    def stop():
        runner.stop()
        worker.stop()
        hq.close()
    return app, stop


def tiers_build(args) -> int:
    from ..hq.build import csv_records

    config.require_id_key(settings(args))
    hq, side = customer_side(args)
    builder = side.builder
    if args.csv:
        with open_csv(args.csv) as stream:
            result = builder.build(base=csv_records(stream, hq.hasher))
    else:
        result = builder.build()
    delta = result["delta"]
    print(f"version {result['version']}: {texts.count(result['customers'], 'customer')}, "
          f"{texts.count(result['rows'], 'identifier')}"
          + (f" (delta: {delta['upserts']} added or changed, {delta['deletes']} removed)" if delta else ""))
    return 0


def metrics_status(args) -> int:
    _, side = customer_side(args)
    status = {**side.collector.status(), "last_build": side.builder.last()}
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{status['customers']} customers joined")
    print(f"{'platform':<12}{'linked':>8}{'measured':>10}{'due':>6}{'failing':>9}{'revoked':>9}  paused")
    for name, p in sorted(status["platforms"].items()):
        paused = f"{p['paused_for_s'] / 60:.0f} min" if p["paused_for_s"] else "-"
        print(f"{name:<12}{p['linked']:>8}{p['measured']:>10}{p['due']:>6}{p['failing']:>9}{p['revoked']:>9}  {paused}")
    for error in status["recent_errors"]:
        print(f"  {iso(error['at'])} {error['platform']}: {error['error']}")
    last = status["last_build"]
    print(f"last build: version {last['version']} at {iso(last['at'])} ({last['trigger']}), "
          f"{last['customers']} customers" if last else "last build: none yet")
    return 0


def metrics_refresh(args) -> int:
    _, side = customer_side(args)
    result = side.collector.run(limit=1_000_000)
    print(f"measured {result.measured}, failed {result.failed}, revoked {result.revoked}, "
          f"unavailable {result.unavailable}, throttled {result.throttled}, aged out {result.aged_out}")
    return 0


def import_csv(args) -> int:
    config.require_id_key(settings(args))
    if args.provider:
        from ..hq.platforms.providers import import_export

        hq = office(args)
        with open_csv(args.file) as stream:
            result = import_export(hq.engine, stream, args.provider, clock=hq.clock)
        print(f"{texts.count(result['rows'], 'row')} read: {result['matched']} matched handles customers gave, "
              f"{result['dropped']} dropped (not joined); run posplugin hq tiers build to publish")
        return 0
    with open_csv(args.file) as stream:
        result = office(args).import_csv(stream)
    delta = result["delta"]
    print(f"{texts.count(result['rows'], 'row')} loaded as version {result['version']}"
          + (f" (delta: {delta['upserts']} added or changed, {delta['deletes']} removed)" if delta else ""))
    return 0


def placement_options(p) -> None:
    p.add_argument("--handles", help="the store's own handles and hashtags, comma-separated (@nordshop_storgata,#storgata)")
    p.add_argument("--place", help="the store's place name as customers write it (Storgata)")
    p.add_argument("--instagram-location", dest="instagram_location", metavar="ID",
                   help="the Instagram location id of the store")


def _place(hq: HeadOffice, args) -> dict | None:
    if args.handles is None and args.place is None and args.instagram_location is None:
        return None
    from ..hq.listening.placement import Placements

    return Placements(hq.engine, hq.clock).set(args.name, handles=args.handles, place=args.place,
                                               instagram_location=args.instagram_location).to_json()


def store_add(args) -> int:
    if bool(args.name) == bool(args.from_csv):
        raise ConfigError(["give a store's name, or --from STORES.csv (not both)"])
    if args.name:
        hq = office(args)
        try:
            placed = _place(hq, args)  # checked before a token is made
            print(hq.create_token("store", args.name))
        finally:
            hq.close()
        if placed:
            print(f"placed: {json.dumps(placed, ensure_ascii=False)}", file=sys.stderr)
        return 0
    from ..hq import stores

    source = Path(args.from_csv)
    out = Path(args.tokens) if args.tokens else source.with_name(source.stem + ".tokens.csv")
    if out.exists():
        raise ConfigError([f"{out} exists already: tokens are never written over a file; move it, or give "
                           "--tokens another path"])
    with open_csv(source) as stream:
        added = stores.add_from_csv(office(args), stream)
    stores.write_tokens(out, added)
    print(f"{len(added)} stores added; their tokens are in {out} (readable by its owner only)")
    return 0


def store_set(args) -> int:
    if args.handles is None and args.place is None and args.instagram_location is None:
        raise ConfigError(["say what to set: --handles, --place or --instagram-location"])
    hq = office(args)
    try:
        if args.name not in hq.store_names():
            raise NotFound(f"no store named {args.name!r}; add it with: posplugin hq store add {args.name}")
        placed = _place(hq, args)
    finally:
        hq.close()
    print(json.dumps(placed, ensure_ascii=False))
    return 0


def classify(args) -> int:
    from ..hq.listening.classify import Classifier
    from ..plugins import Plugins

    s = settings(args)
    verdict = Classifier.from_settings(s, Plugins(s)).classify(args.text, args.language)
    print(f"about: {verdict.about}\ntone: {verdict.tone}\nlanguage: {verdict.language}")
    for why in verdict.why or ("no word decided it: other, neutral",):
        print(f"why: {why}")
    return 0


def heard(args) -> int:
    from ..hq.listening.heard import Listening

    hq = office(args)
    try:
        listening = Listening.from_settings(hq.engine, settings(args), clock=hq.clock)
        answer = listening.inbox(store=args.store, since=hq.clock() - max(1, args.days) * 86400.0)
    finally:
        hq.close()
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    for post in answer["heard"]:
        times = ", ".join(f"{step} {post[f'to_{step}_s'] / 60:.1f} min" for step in ("prompt", "taken", "resolved",
                                                                                  "replied")
                          if post[f"to_{step}_s"] is not None)
        print(f"{post['posted_at']}  {post['store'] or '(chain)':<16} {post['source']:<10} {post['tone']:<9} "
              f"{post['about']:<12} {post['status']:<9} {times}")
        print(f"    {_printable(post['excerpt']) or '(text purged)'}")
    chain = answer["figures"]["chain"]
    print(f"{chain['heard']} heard, {chain['complaints']} complaints, {chain['praise']} praise; "
          f"post to floor median {_minutes(chain['to_prompt']['median_s'])}, "
          f"p95 {_minutes(chain['to_prompt']['p95_s'])}")
    return 0


def _printable(text: str) -> str:
    """A post's text for a terminal: control characters (an escape sequence in
    a post must not drive the reader's terminal) shown as U+FFFD."""
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in text or "")


def _minutes(seconds) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def migrate(args) -> int:
    from ..hq.db import database_url, open_engine, upgrade

    s = settings(args)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(database_url(s.data_dir, s.hq_database_url))  # migrates
    try:
        print(f"head office database at revision {upgrade(engine)}")
    finally:
        engine.dispose()
    return 0


def token_create(args) -> int:
    print(office(args).create_token(args.role, args.name))
    return 0


def token_revoke(args) -> int:
    count = office(args).revoke_tokens(args.name)
    print(f"revoked {count} token(s) named {args.name!r}", file=sys.stderr)
    return 0 if count else 1


def qr(args) -> int:
    import segno

    from ..hq.customers.join import join_url

    s = settings(args)
    if not s.public_url:
        raise config.ConfigError(["set public_url to head office's public address (https://…) "
                                  "so the QR code points where customers can reach it"])
    url = join_url(s.public_url, args.source or "")
    code = segno.make(url, error="m")
    for path, kind in ((args.svg, "svg"), (args.png, "png")):
        if path:
            code.save(path, kind=kind, scale=10, border=4)
    print(url)
    print(terminal_qr(url), end="")
    return 0


def public_key(args) -> int:
    print(office(args).public_key)
    return 0


def experiment_start(args) -> int:
    started = office(args).experiments.start(args.name, args.share)
    print(f"experiment {started['name']} running: {started['holdout_share']:.0%} of customers held out; "
          "stores apply it at their next sync")
    return 0


def experiment_stop(args) -> int:
    stopped = office(args).experiments.stop()
    if stopped is None:
        print("no experiment is running", file=sys.stderr)
        return 1
    print(f"experiment {stopped['name']} stopped; its results stay (posplugin hq experiment status "
          f"{stopped['name']})")
    return 0


def experiment_status(args) -> int:
    answer = office(args).experiments.results(args.name)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    e = answer["experiment"]
    if e is None:
        print("no experiment yet: posplugin hq experiment start NAME --share 0.2")
        return 0
    print(f"{e['name']}: {e['holdout_share']:.0%} held out, started {e['started_at']}"
          + (f", stopped {e['stopped_at']}" if e["stopped_at"] else ", running"))
    print(f"{'level':<10}{'outcome':<11}{'served':>16}{'held out':>16}  difference, 95 % interval")
    for r in answer["results"]:
        if r["scope"] == "chain":
            print(f"{r['level']:<10}{r['metric']:<11}{_arm_text(r, 'served'):>16}{_arm_text(r, 'holdout'):>16}  "
                  f"{_difference_text(r)}")
    return 0


def _arm_text(r: dict, side: str) -> str:
    a = r[side]
    value = a["rate"] if r["kind"] == "rate" else a["mean"]
    if value is None:
        return f"– of {a['n']:,}"
    return f"{value:.1%} of {a['n']:,}" if r["kind"] == "rate" else f"{value:,.2f} (n {a['n']:,})"


def _difference_text(r: dict) -> str:
    if r["difference"] is None:
        return "–"
    scale, unit = (100, " pt") if r["kind"] == "rate" else (1, "")
    text = f"{r['difference'] * scale:+.1f}{unit} ({r['low'] * scale:+.1f} to {r['high'] * scale:+.1f})"
    return text if r["enough"] else f"{text}; not enough data yet: about {r['more_needed']:,} more customers"
