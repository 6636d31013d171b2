"""Uplift statistics for the holdout experiment: intervals for a difference of
two rates or two means, and how many customers are needed to detect a given
difference. Plain functions of counts, so a simulation can check them.

Rates (returned within 7 / 30 days, invitation accepted): Newcombe's hybrid
score interval for a difference of independent proportions (Newcombe 1998,
method 10). It combines each arm's Wilson score interval, so unlike the
simple Wald interval it keeps close to its stated coverage with a small arm
(a holdout of 10 % is small by design), with rates near 0 or 1 (returns to a
store often are), and with zero events in an arm; and it never leaves
[-1, 1]. Means (spend): the Welch difference of means with a normal quantile,
trusted only from 30 customers an arm (below that the answer says not enough).
Sample size: the normal-approximation formula for two proportions with
unequal allocation (Fleiss), at the experiment's holdout share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
POWER = 0.8
MIN_MEAN_N = 30


def z_for(confidence: float = CONFIDENCE) -> float:
    """The two-sided normal quantile for ``confidence`` (1.95996… for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a proportion; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = z_for(confidence)
    if successes == 0 or successes == n:
        # The closed forms, without rounding's 1e-17 beyond the bound.
        bound = z * z / (n + z * z)
        return (0.0, bound) if successes == 0 else (1 - bound, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def rate_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Newcombe's hybrid score interval for p1 - p2 (arm 1 minus arm 2);
    None while either arm has no one."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    # Exact arithmetic keeps it within [-1, 1]; the clamp only removes rounding.
    return Interval(d, max(-1.0, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
                    min(1.0, d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def mean_difference(n1: int, sum1: float, sumsq1: float, n2: int, sum2: float, sumsq2: float,
                    confidence: float = CONFIDENCE) -> Interval | None:
    """Welch's interval for mean1 - mean2 from counts, sums and sums of
    squares (what stores report); None while either arm has fewer than 2."""
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = sum1 / n1, sum2 / n2
    v1 = max(0.0, (sumsq1 - n1 * m1 * m1) / (n1 - 1))
    v2 = max(0.0, (sumsq2 - n2 * m2 * m2) / (n2 - 1))
    half = z_for(confidence) * math.sqrt(v1 / n1 + v2 / n2)
    return Interval(m1 - m2, m1 - m2 - half, m1 - m2 + half)


def customers_needed(baseline: float, difference: float, holdout_share: float,
                     confidence: float = CONFIDENCE, power: float = POWER) -> tuple[int, int]:
    """Customers needed in (served arm, holdout arm) to detect a rate
    difference of ``difference`` from ``baseline`` with ``power``, when a
    ``holdout_share`` of customers is held out."""
    if not 0 < holdout_share < 1 or difference <= 0:
        raise ValueError("holdout_share must be between 0 and 1 and difference positive")
    p2 = min(max(baseline, 0.001), 0.999)
    p1 = p2 + difference if p2 + difference < 1 else p2 - difference
    if not 0 < p1 < 1:
        raise ValueError("difference too large for this baseline")
    a, b = 1 - holdout_share, holdout_share
    mean = a * p1 + b * p2
    z_a, z_b = z_for(confidence), NormalDist().inv_cdf(power)
    root = z_a * math.sqrt(mean * (1 - mean) * (1 / a + 1 / b)) + \
        z_b * math.sqrt(p1 * (1 - p1) / a + p2 * (1 - p2) / b)
    total = (root / difference) ** 2
    return math.ceil(a * total), math.ceil(b * total)


def more_needed(n_served: int, n_holdout: int, needed: tuple[int, int], holdout_share: float) -> int:
    """How many more customers (both arms together, arriving at the holdout
    share) until both arms reach ``needed``."""
    short_served = max(0, needed[0] - n_served) / (1 - holdout_share)
    short_holdout = max(0, needed[1] - n_holdout) / holdout_share
    return math.ceil(max(short_served, short_holdout))
