"""The customer side's background work in ``posplugin hq serve``: refresh
due accounts, then build a version when one is due, once a minute, in a
thread of its own so no request waits on a platform."""

from __future__ import annotations

import logging
import threading

from .build import Builder
from .customers.collector import Collector

log = logging.getLogger("posplugin.hq.worker")
TICK_S = 60.0


class Worker:
    """Runs the collector and automatic builds every ``tick_s`` until stopped."""

    def __init__(self, collector: Collector, builder: Builder, tick_s: float = TICK_S, housekeeping=()):
        self.collector = collector
        self.builder = builder
        self.housekeeping = list(housekeeping)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="posplugin-hq-worker", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def running(self) -> bool:
        """Whether the worker's thread is alive (started and not yet stopped)."""
        return self._thread.is_alive()

    def tick(self) -> None:
        """One round: refresh what is due, build if due. Failures are logged, never raised."""
        try:
            result = self.collector.run()
            if result.measured or result.failed or result.revoked:
                log.info("metrics: %s", result)
            self.builder.build_if_due()
            for task in self.housekeeping:
                task()
        except Exception:
            log.exception("the customer side's background round failed; trying again next round")

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.tick()
