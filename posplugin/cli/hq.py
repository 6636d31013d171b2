"""``posplugin hq …``: the head office service, tier-list versions, store and
admin tokens, and the public key stores verify with."""

from __future__ import annotations

import json
import sys

from .. import config
from ..hq.office import HeadOffice
from ..hq.web import create_hq_app
from ..tiers.lists import open_text
from ..web.server import make_server
from .common import command, group, log, run_server, server_options, settings

PORT = 8766


def register(commands) -> None:
    hq = group(commands, "hq", "head office")
    server_options(command(hq, "serve", "run the head office service", serve), PORT)
    command(hq, "import", "make a new tier-list version from a CSV", import_csv).add_argument(
        "file", metavar="FILE.csv")
    stores = group(hq, "store", "stores", dest="store_action")
    command(stores, "add", "add a store; prints its token", store_add).add_argument("name")
    tokens = group(hq, "token", "head office tokens", dest="token_action")
    p = command(tokens, "create", "print a new head office token", token_create)
    p.add_argument("--role", required=True, choices=("admin",))
    p.add_argument("--name", required=True)
    command(tokens, "revoke", "revoke a store's or an admin's tokens by name",
            token_revoke).add_argument("--name", required=True)
    command(hq, "public-key", "print the key stores verify lists with", public_key)
    experiments = group(hq, "experiment", "the holdout experiment", dest="experiment_action")
    p = command(experiments, "start", "start a holdout experiment (the running one stops)", experiment_start)
    p.add_argument("name")
    p.add_argument("--share", type=float, required=True, help="share of customers held out, above 0 to 0.5")
    command(experiments, "stop", "stop the running experiment (its results stay)", experiment_stop)
    p = command(experiments, "status", "print an experiment's uplift as JSON", experiment_status)
    p.add_argument("name", nargs="?", help="default: the running one, else the latest")


def office(args) -> HeadOffice:
    """The head office in the command's data folder."""
    s = settings(args)
    return HeadOffice(s.data_dir, s.id_key, default_region=s.default_region, timezone=s.tz(),
                      stale_after_s=3 * s.sync_interval_s, database_url=s.hq_database_url)


def serve(args) -> int:
    s = settings(args)
    hq = office(args)
    # The experiment settings start (or, with share 0, stop) an experiment once.
    hq.experiments.apply_settings(s.experiment, s.holdout_share)
    server = make_server(create_hq_app(hq, language=s.language), s.host, args.port or PORT, s.threads)
    log.info("posplugin head office on http://%s:%s (data %s); stores verify with %s",
             s.host, server.effective_port, s.data_dir, hq.public_key)
    return run_server(server)


def import_csv(args) -> int:
    config.require_id_key(settings(args))
    with open_text(args.file) as stream:
        result = office(args).import_csv(stream)
    delta = result["delta"]
    print(f"{result['rows']} rows loaded as version {result['version']}"
          + (f" (delta: {delta['upserts']} added or changed, {delta['deletes']} removed)" if delta else ""))
    return 0


def store_add(args) -> int:
    print(office(args).create_token("store", args.name))
    return 0


def token_create(args) -> int:
    print(office(args).create_token(args.role, args.name))
    return 0


def token_revoke(args) -> int:
    count = office(args).revoke_tokens(args.name)
    print(f"revoked {count} token(s) named {args.name!r}", file=sys.stderr)
    return 0 if count else 1


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
    print(json.dumps(office(args).experiments.results(args.name), indent=2))
    return 0
