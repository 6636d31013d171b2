"""How honest the experiment's intervals are: coverage of the true effect over
many simulated experiments, for no, a small and a large effect, small and
large samples, a common and a rare outcome, at a 20 % holdout share. Beside
each, in the same run, the simple Wald interval as the floor to beat.

A 95 % interval should cover the truth in about 95 % of runs: fewer means it
claims more certainty than the data give. Also printed: the mean width, and
how often "enough data" (the power calculation for a 5-point difference)
came with an interval that excluded a true 5-point effect (should be ≥ 80 %).

Run: python benchmarks/experiment_coverage.py [runs]   (default 2,000 per cell)
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posplugin.hq import uplift  # noqa: E402

SHARE = 0.2
EFFECTS = {"none": 0.0, "small": 0.02, "large": 0.10}
SIZES = (150, 1_000, 5_000)   # customers at one level, both arms
BASES = (0.05, 0.30)          # the held-out arm's rate: a rare and a common outcome


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def wald(x1, n1, x2, n2) -> tuple[float, float]:
    p1, p2 = x1 / n1, x2 / n2
    half = uplift.z_for() * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - half, p1 - p2 + half


def cell(rng: random.Random, runs: int, size: int, base: float, effect: float) -> dict:
    covered = wald_covered = width = 0.0
    for _ in range(runs):
        held = binomial(rng, size, SHARE)
        served = size - held
        if held == 0 or served == 0:
            continue
        xs, xh = binomial(rng, served, base + effect), binomial(rng, held, base)
        interval = uplift.rate_difference(xs, served, xh, held)
        covered += interval.covers(effect)
        width += interval.high - interval.low
        low, high = wald(xs, served, xh, held)
        wald_covered += low <= effect <= high
    return {"coverage": covered / runs, "wald": wald_covered / runs, "width": width / runs}


def power_check(rng: random.Random, runs: int, base: float, detect: float = 0.05) -> float:
    served, held = uplift.customers_needed(base, detect, SHARE)
    hits = 0
    for _ in range(runs):
        xs, xh = binomial(rng, served, base + detect), binomial(rng, held, base)
        hits += uplift.rate_difference(xs, served, xh, held).low > 0
    return hits / runs


def main(runs: int = 2_000) -> None:
    rng = random.Random(2026)
    print(f"95 % intervals for served − held-out rate, holdout share {SHARE:.0%}, {runs:,} experiments a cell")
    print(f"{'effect':>7} {'base':>5} {'customers':>9} | {'Newcombe':>8} {'Wald (floor)':>12} | {'mean width':>10}")
    for name, effect in EFFECTS.items():
        for base in BASES:
            for size in SIZES:
                r = cell(rng, runs, size, base, effect)
                print(f"{name:>7} {base:>5.2f} {size:>9,} | {r['coverage']:>8.3f} {r['wald']:>12.3f} | "
                      f"{r['width'] * 100:>8.1f} pt")
    print("\npower at the sample size the page asks for (5-point difference, 80 % intended):")
    for base in BASES:
        served, held = uplift.customers_needed(base, 0.05, SHARE)
        print(f"  base {base:.2f}: {served:,} served + {held:,} held out → detected in "
              f"{power_check(rng, max(200, runs // 4), base):.1%} of runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000)
