"""Running the service behind the front door (an asyncio server that also runs
on Windows tills), plus the housekeeping thread that runs beside it."""

from __future__ import annotations

import logging
import random
import signal
import threading

from .frontdoor import FrontDoor

log = logging.getLogger("posplugin.server")


def stop_on_sigterm() -> None:
    """Let SIGTERM (service managers, `kill`) shut down as cleanly as Ctrl-C."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, interrupt)


class Housekeeper(threading.Thread):
    """Runs ``tasks`` (callables) every ``interval_s`` seconds until stopped.
    A failing task is logged and retried next round; it never stops the service."""

    def __init__(self, tasks, interval_s: float = 3600.0, name: str = "posplugin-housekeeper",
                 jitter: float = 0.0):
        super().__init__(name=name, daemon=True)
        self.tasks = list(tasks)
        self.interval_s = interval_s
        self.jitter = jitter
        self._stop = threading.Event()

    def run(self) -> None:
        while True:
            for task in self.tasks:
                try:
                    task()
                except Exception:
                    log.exception("housekeeping task %s failed", getattr(task, "__name__", task))
            # Jitter spreads thousands of stores' rounds out, so a new version
            # is not fetched by all of them in the same second.
            wait = self.interval_s * (1 + random.uniform(-self.jitter, self.jitter))
            if self._stop.wait(wait):
                return

    def stop(self) -> None:
        self._stop.set()


def make_server(app, host: str, port: int, threads: int, max_streams: int = 0, **options) -> FrontDoor:
    """The front door bound to ``host:port`` (port 0 picks a free one), running
    ``app`` on ``threads`` worker threads. Live streams are served from its
    event loop and need no thread (``max_streams`` is the app's own limit,
    kept for callers that still pass it)."""
    return FrontDoor(app, host, port, threads, **options)


class BackgroundServer:
    """A server in a thread of this process: for the demo and for tests."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 max_streams: int = 16):
        self.app = app
        self.server = make_server(app, host, port, threads, max_streams)
        self.host = host
        self.port = self.server.effective_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection and stream, end the server thread (once)."""
        self.server.close()
