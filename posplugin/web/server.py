"""Running a service behind the front door: in this process, or in several
processes that share one listening socket (head office on PostgreSQL), plus
the housekeeping threads that run beside it.

One way to serve, at any number of workers: each worker process runs the same
front door (slow clients and live streams cost it a socket, not a thread)
over an app it builds for itself after the fork, so no database connection is
shared between processes. The parent only watches: a worker that dies is
started again, and SIGTERM or Ctrl-C stops them all.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from typing import Callable

from .frontdoor import FrontDoor, bind

log = logging.getLogger("posplugin.server")

# What one process serves: its app, and what to do when it stops.
Start = Callable[[], tuple[object, Callable[[], None]]]
RESTART_DELAY_S = 1.0   # a worker that dies is started again after this (no spinning when it fails at once)
STOP_GRACE_S = 10.0     # workers get this long to finish after SIGTERM before SIGKILL


def stop_on_sigterm() -> None:
    """Let SIGTERM (service managers, `kill`) shut down as cleanly as Ctrl-C."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, interrupt)


def can_fork() -> bool:
    """Whether several worker processes can share a socket here (not on Windows)."""
    return hasattr(os, "fork")


def listen(host: str, port: int) -> socket.socket:
    """The listening socket a service is served on (port 0 picks a free one);
    binding first makes a port in use an error before anything starts."""
    return bind(host, port)


def run_service(sock: socket.socket, start: Start, *, threads: int, workers: int = 1,
                per_address: int = 0) -> int:
    """Serve on ``sock`` until SIGTERM or Ctrl-C: ``start()`` builds the app
    (and whatever runs beside it) and returns it with its cleanup, in this
    process, or in each of ``workers`` processes. ``per_address`` caps the
    connections one network address may hold (0: no cap)."""
    stop_on_sigterm()
    if workers <= 1:
        app, cleanup = start()
        return _run(FrontDoor(app, threads=threads, sock=sock, per_address=per_address), cleanup)
    return Supervisor(sock, start, workers, threads).run()


def _run(door: FrontDoor, cleanup: Callable[[], None]) -> int:
    try:
        door.run()
    except KeyboardInterrupt:
        pass
    finally:
        door.close()
        cleanup()
    return 0


class Supervisor:
    """Keeps ``workers`` processes serving one socket."""

    def __init__(self, sock: socket.socket, start: Start, workers: int, threads: int):
        self.sock = sock
        self.start = start
        self.workers = workers
        self.threads = threads
        self.children: dict[int, int] = {}  # pid -> worker number

    def run(self) -> int:
        for number in range(self.workers):
            self._spawn(number)
        try:
            while True:
                pid, status = os.wait()
                number = self.children.pop(pid, None)
                if number is None:
                    continue
                log.warning("worker %s (pid %s) ended with status %s; starting another", number, pid,
                            os.waitstatus_to_exitcode(status))
                time.sleep(RESTART_DELAY_S)
                self._spawn(number)
        except KeyboardInterrupt:
            self._stop_all()
        return 0

    def _spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        # The child: the parent alone answers Ctrl-C, and stops the children with SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        code = 1
        try:
            stop_on_sigterm()
            app, cleanup = self.start()
            code = _run(FrontDoor(app, threads=self.threads, sock=self.sock), cleanup)
        except BaseException:
            log.exception("worker %s failed", number)
        finally:
            logging.shutdown()
            os._exit(code)

    def _stop_all(self) -> None:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.children and time.monotonic() < deadline:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in self.children:
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.children.clear()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


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


class BackgroundServer:
    """A server in a thread of this process: for the demo and for tests."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 16, per_address: int = 0):
        self.app = app
        self.server = FrontDoor(app, host, port, threads, per_address=per_address)
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
