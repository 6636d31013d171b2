"""The ``posplugin`` command line. Each command group declares its own
options beside its commands (``store``, ``hq``); this module builds the
parser from them, adds ``posplugin demo``, and turns errors into one line each."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__
from ..errors import ConfigError, ImportRefused, PospluginError
from ..texts import LANGUAGES
from . import hq, startup, store
from .common import command, server_options

DESCRIPTION = "A store's local service: influence-aware service prompts at the till, queue pain points on the floor."
SERVICE_LOG = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ONCE_LOG = "posplugin: %(message)s"


def _runs_on(args) -> bool:
    """Whether the command keeps running (a service, the demo, a sync loop): its log lines get times."""
    return args.func.__name__ in ("serve", "_demo") or (args.func.__name__ == "sync" and not args.once)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every group's commands and options."""
    parser = argparse.ArgumentParser(prog="posplugin", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"posplugin {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store.register(commands)
    hq.register(commands)
    _register_demo(commands)
    return parser


def _register_demo(commands) -> None:
    p = command(commands, "demo", "a whole store and head office with simulated traffic", _demo, data=False)
    p.add_argument("--data", metavar="DIR", help="keep the demo's data here (default: a temporary folder)")
    server_options(p, 8765)
    p.add_argument("--hq-port", type=int, default=None,
                   help="head office's port (default 8766; 0 with --port 0)")
    p.add_argument("--language", choices=LANGUAGES, default=None,
                   help="language of the pages and the console (default: the language setting, else en)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=42, help="seed for the made-up customers and traffic")
    p.add_argument("--pace", type=float, default=3.0, help="seconds between customers at the tills")


def _demo(args) -> int:
    from ..demo import run  # the demo's made-up world is loaded only when it runs

    return run.run(data=args.data, port=args.port, host=args.host, duration=args.duration, seed=args.seed,
                   pace_s=args.pace, hq_port=args.hq_port, language=args.language)


def main(argv: list[str] | None = None) -> int:
    """Run the ``posplugin`` command; returns its exit status."""
    args = build_parser().parse_args(argv)
    # A service's log lines carry their time; a command that runs once speaks in sentences.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format=SERVICE_LOG if _runs_on(args) else ONCE_LOG)
    if not args.verbose:  # Alembic narrates every start ("Will assume non-transactional DDL"); -v shows it
        logging.getLogger("alembic").setLevel(logging.WARNING)
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
    except BrokenPipeError:
        # `posplugin pair | head`: the reader left. Point stdout at nothing so
        # the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # known start-up problems get a sentence; anything else its traceback
        sentence = startup.explain(exc, args)
        if sentence is None:
            raise
        print(f"posplugin: {sentence}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
