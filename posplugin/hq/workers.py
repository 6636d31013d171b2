"""Several head office processes behind one address: gunicorn on Linux and
macOS. Each worker builds its own app (and its own database connections)
after the fork, so no socket or connection is shared between processes.

Windows has no fork and no gunicorn: there head office runs as one waitress
process, whatever ``--workers`` says (see docs/scaling.md).
"""

from __future__ import annotations

import logging

try:
    from gunicorn.app.base import BaseApplication
except ImportError:  # Windows: no fork, no gunicorn
    BaseApplication = object

log = logging.getLogger("posplugin.hq")

# A tier-list upload of tens of millions of rows takes minutes; gunicorn's
# gthread workers keep answering their heartbeat while a request runs, so
# this only ends a worker that is truly stuck.
WORKER_TIMEOUT_S = 600


def available() -> bool:
    """Whether this platform can run several workers."""
    return BaseApplication is not object


class _Application(BaseApplication):
    def __init__(self, make_app, options: dict):
        self.make_app = make_app
        self.options = options
        super().__init__()

    def load_config(self):
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        return self.make_app()


def run(make_app, host: str, port: int, workers: int, threads: int) -> int:
    """Serve ``make_app()`` (called once in each worker, after the fork) with
    ``workers`` processes of ``threads`` threads each, until SIGTERM or Ctrl-C."""
    _Application(make_app, {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
        "timeout": WORKER_TIMEOUT_S, "graceful_timeout": 10, "preload_app": False,
        "accesslog": None, "errorlog": "-", "loglevel": "warning", "proc_name": "posplugin-hq"}).run()
    return 0
