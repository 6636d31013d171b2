"""Running the service under waitress, a production WSGI server that also runs
on Windows tills, plus the housekeeping thread that runs beside it."""

from __future__ import annotations

import logging
import random
import signal
import threading

from waitress.server import create_server

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


def make_server(app, host: str, port: int, threads: int, max_streams: int = 0, **options):
    """A waitress server bound to ``host:port`` (port 0 picks a free one).

    waitress runs each request on a worker thread, and a live stream (Server-
    Sent Events) keeps its thread for as long as the tablet is connected. So
    the pool is ``threads`` for ordinary requests plus one per allowed stream:
    streams wait on a condition variable and cost no CPU, and identify never
    queues behind them. waitress flushes every write at once (send_bytes = 1),
    so each event leaves as soon as it is yielded.
    """
    return create_server(app, host=host, port=port, threads=threads + max_streams,
                         connection_limit=max(100, (threads + max_streams) * 2),
                         channel_timeout=120, ident="posplugin", clear_untrusted_proxy_headers=True,
                         **options)


class BackgroundServer:
    """A server in a thread of this process: for the demo and for tests."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 max_streams: int = 16):
        self.app = app
        self.server = make_server(app, host, port, threads, max_streams)
        self.host = host
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, name="posplugin-http", daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection, and end the server thread (once)."""
        if self._stopped:
            return
        self._stopped = True
        # waitress's loop runs until its socket map is empty; close() alone
        # leaves the wake-up trigger and keep-alive connections in it. Closing
        # them from this thread would race the loop's select(), so the loop
        # thread does it.
        def close_all():
            self.server.close()
            for channel in list(self.server._map.values()):
                channel.close()

        try:
            self.server.trigger.pull_trigger(close_all)
        except OSError:  # the loop already closed its trigger: nothing left to wake
            pass
        self.thread.join(timeout=5)
        # Live streams may still hold threads; they are daemons and end with the process.
        self.server.task_dispatcher.shutdown(timeout=0.2)
