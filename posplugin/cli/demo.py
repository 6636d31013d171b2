"""``posplugin demo``: a whole store and head office with simulated traffic."""

from __future__ import annotations

from ..demo import run as demo
from ..texts import LANGUAGES
from .common import command, server_options


def register(commands) -> None:
    p = command(commands, "demo", "a whole store with simulated traffic", run, data=False)
    p.add_argument("--data", metavar="DIR", help="keep the demo's data here (default: a temporary folder)")
    server_options(p, 8765)
    p.add_argument("--hq-port", type=int, default=None,
                   help="head office's port (default 8766; 0 with --port 0)")
    p.add_argument("--language", choices=LANGUAGES, default=None,
                   help="language of the pages and the console (default: the language setting, else en)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=42, help="seed for the made-up customers and traffic")
    p.add_argument("--pace", type=float, default=3.0, help="seconds between customers at the tills")


def run(args) -> int:
    return demo.run(data=args.data, port=args.port, host=args.host, duration=args.duration,
                    seed=args.seed, pace_s=args.pace, hq_port=args.hq_port, language=args.language)
