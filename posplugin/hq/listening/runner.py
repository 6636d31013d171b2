"""Keeps the listening sources reading, in one head office process only.

Each source runs in a thread of its own; one that fails (a dropped
connection, a platform that is down or throttling) is started again after a
backoff that doubles up to ``MAX_BACKOFF_S``, without stopping the others.
Long-lived connections (Jetstream, Mastodon) must not be opened by every
``hq serve`` worker: the runner first takes the ``listening`` process lock
and, while another process holds it, tries again every ``RETRY_LOCK_S``
(so a worker that dies hands the sources to another).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from ..db import insert, try_process_lock
from ..schema import listen_cursors

log = logging.getLogger("posplugin.hq.listening")
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
RETRY_LOCK_S = 60.0
STEADY_S = 60.0  # a source that ran this long before failing starts again from the first backoff


class Cursors:
    """Where each source resumes, in head office's database."""

    def __init__(self, engine, clock):
        self.engine = engine
        self.clock = clock

    def get(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(listen_cursors.c.cursor).where(listen_cursors.c.source == source))

    def set(self, source: str, cursor: str) -> None:
        upsert = insert(self.engine, listen_cursors).values(source=source, cursor=cursor, updated_at=self.clock())
        with self.engine.begin() as conn:
            conn.execute(upsert.on_conflict_do_update(index_elements=["source"], set_={
                "cursor": upsert.excluded.cursor, "updated_at": upsert.excluded.updated_at}))


class Runner:
    """Runs the hub's sources (see the module's docstring) until stopped."""

    def __init__(self, hub, engine, data_dir, *, clock, first_backoff_s: float = FIRST_BACKOFF_S,
                 max_backoff_s: float = MAX_BACKOFF_S, lock: bool = True):
        self.hub = hub
        self.engine = engine
        self.data_dir = data_dir
        self.clock = clock
        self.cursors = Cursors(engine, clock)
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.lock = lock
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.failures: dict[str, int] = {}
        self._held = None

    def start(self) -> "Runner":
        thread = threading.Thread(target=self._claim, name="posplugin-listening", daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=5)
        if self._held is not None:
            self._held.release()
            self._held = None

    def _claim(self) -> None:
        while not self.stop_event.is_set():
            self._held = try_process_lock(self.engine, "listening", self.data_dir) if self.lock else True
            if self._held:
                break
            self.stop_event.wait(RETRY_LOCK_S)
        if self.stop_event.is_set():
            return
        for source in self.hub.sources(self.cursors):
            thread = threading.Thread(target=self._keep, args=(source,), daemon=True,
                                      name=f"posplugin-listen-{source.name}")
            thread.start()
            self.threads.append(thread)

    def _keep(self, source) -> None:
        """Run ``source`` until stopped, starting it again with backoff whenever it fails or ends."""
        backoff = self.first_backoff_s
        while not self.stop_event.is_set():
            started = self.clock()
            try:
                source.run(self.hub.hear, self.stop_event)
                reason = "ended"
            except Exception as exc:  # a platform's fault must not stop the others
                reason = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            if self.stop_event.is_set():
                return
            if self.clock() - started >= STEADY_S:
                backoff = self.first_backoff_s
            self.failures[source.name] = self.failures.get(source.name, 0) + 1
            wait = getattr(getattr(source, "graph", None), "paused_until", 0) - self.clock()
            wait = max(wait, backoff)
            log.warning("listening: %s %s; again in %.0f s", source.name, reason, wait)
            self.stop_event.wait(wait)
            backoff = min(self.max_backoff_s, backoff * 2)
