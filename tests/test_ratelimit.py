"""The token bucket: exactly ``burst`` requests at once, then ``per_second``."""

import pytest
from helpers import Clock

from posplugin.errors import RateLimited
from posplugin.web.ratelimit import RateLimiter


def allowed(limiter, key="t", n=1) -> list[bool]:
    out = []
    for _ in range(n):
        try:
            limiter.check(key)
            out.append(True)
        except RateLimited:
            out.append(False)
    return out


def test_exactly_the_burst_then_refused():
    limiter = RateLimiter(per_second=2, burst=3, clock=Clock(100.0))
    assert allowed(limiter, n=5) == [True, True, True, False, False]


def test_refill_at_the_rate_and_never_above_the_burst():
    clock = Clock(100.0)
    limiter = RateLimiter(per_second=2, burst=3, clock=clock)
    assert allowed(limiter, n=4) == [True, True, True, False]
    clock.now += 0.25                       # half a request earned
    assert allowed(limiter) == [False]
    clock.now += 0.25                       # a whole one, counting the refused attempt's time
    assert allowed(limiter, n=2) == [True, False]
    clock.now += 1.0                        # two more
    assert allowed(limiter, n=3) == [True, True, False]
    clock.now += 3600                       # an idle hour fills the bucket, no further
    assert allowed(limiter, n=4) == [True, True, True, False]


def test_each_key_has_its_own_bucket():
    limiter = RateLimiter(per_second=1, burst=1, clock=Clock(100.0))
    assert allowed(limiter, "a", 2) == [True, False]
    assert allowed(limiter, "b", 2) == [True, False]


@pytest.mark.parametrize("per_second", [0, -1])
def test_zero_turns_it_off(per_second):
    assert all(allowed(RateLimiter(per_second=per_second, burst=0, clock=Clock(100.0)), n=1000))
