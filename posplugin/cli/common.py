"""What every command group shares: settings from flags and subcommand builders."""

from __future__ import annotations

import argparse
import logging

from .. import config

log = logging.getLogger("posplugin")
HQ_HELP = "head office"  # the hq group's help, also shown while its commands are not loaded


def settings(args: argparse.Namespace, **overrides) -> config.Settings:
    """Settings for the command's ``--data``, with ``--host``/``--port`` winning."""
    return config.load(getattr(args, "data", None), host=getattr(args, "host", None),
                       port=getattr(args, "port", None), **overrides)


def command(parent, name: str, help: str, func, *, data: bool = True) -> argparse.ArgumentParser:
    """A subcommand running ``func``, with ``--data`` unless told otherwise."""
    parser = parent.add_parser(name, help=help)
    if data:
        parser.add_argument("--data", metavar="DIR", help="data folder (default $POSPLUGIN_DATA or ./data)")
    parser.set_defaults(func=func)
    return parser


def group(parent, name: str, help: str, dest: str = "action"):
    """A command group (``posplugin token …``); returns where its subcommands go."""
    return parent.add_parser(name, help=help).add_subparsers(dest=dest, required=True)


def server_options(parser: argparse.ArgumentParser, port: int) -> None:
    """``--host`` and ``--port`` for a command that serves."""
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help=f"port (default {port})")
