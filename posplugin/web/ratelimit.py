"""A token bucket per API token, so one runaway integration cannot starve a store."""

from __future__ import annotations

import math
import threading
import time

from ..errors import RateLimited


class RateLimiter:
    def __init__(self, per_second: float, burst: int, clock=time.monotonic):
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: object) -> None:
        """Spend one request for ``key``; raise :class:`RateLimited` when none is left."""
        if self.per_second <= 0:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise RateLimited(f"more than {self.per_second:g} requests per second; slow down",
                                  retry_after=math.ceil((1 - tokens) / self.per_second))
            self._buckets[key] = (tokens - 1, now)
