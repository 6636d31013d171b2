"""The experiment's statistics: Newcombe's interval against the published
values, coverage of the true effect over many simulated chains (none, small
and large effects, customers put in arms by the real assignment), power that
is what it says, and "not enough data" when there is not."""

import random

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.demo.experiment import simulate_arms
from posplugin.hq import uplift

KEY = "test-identifier-key-0123456789abcdef"


# Newcombe (1998), "Interval estimation for the difference between independent
# proportions", Statistics in Medicine 17, table II, method 10.
@pytest.mark.parametrize("x1, n1, x2, n2, low, high", [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
])
def test_newcombe_interval_matches_the_published_examples(x1, n1, x2, n2, low, high):
    interval = uplift.rate_difference(x1, n1, x2, n2)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    assert interval.estimate == pytest.approx(x1 / n1 - x2 / n2)


def test_no_interval_without_customers_in_both_arms():
    assert uplift.rate_difference(3, 10, 0, 0) is None
    assert uplift.mean_difference(10, 100.0, 1100.0, 1, 5.0, 25.0) is None


@hsettings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_the_interval_holds_the_estimate_and_stays_within_minus_one_and_one(n1, n2, data):
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    interval = uplift.rate_difference(x1, n1, x2, n2)
    assert -1 <= interval.low <= interval.estimate <= interval.high <= 1


def test_mean_difference_is_welch_from_sums():
    a, b = [10.0, 12.0, 14.0, 16.0], [9.0, 10.0, 11.0]
    interval = uplift.mean_difference(len(a), sum(a), sum(v * v for v in a), len(b), sum(b), sum(v * v for v in b))
    # means 13 and 10; variances 20/3 and 1: half-width 1.96 × sqrt(20/12 + 1/3)
    assert interval.estimate == pytest.approx(3.0)
    assert interval.high - 3.0 == pytest.approx(uplift.z_for() * (20 / 12 + 1 / 3) ** 0.5)


def test_sample_size_is_the_textbook_figure():
    # 30 % against 35 %, equal arms, 80 % power, two-sided 5 %: 1,377 per arm (Fleiss, no continuity correction).
    assert uplift.customers_needed(0.30, 0.05, 0.5) == (1377, 1377)
    served, holdout = uplift.customers_needed(0.30, 0.05, 0.2)
    assert holdout < 1377 < served and served == pytest.approx(4 * holdout, rel=0.01)


@pytest.mark.parametrize("name, effect", [("none", 0.0), ("small", 0.03), ("large", 0.15)])
def test_the_interval_covers_the_true_effect_at_about_95_percent(name, effect):
    rng = random.Random(f"coverage-{name}")
    seeds, covered = 300, 0
    for seed in range(seeds):
        c = simulate_arms(rng, 400, KEY, f"sim-{seed}", 0.2, 0.3, effect)
        covered += uplift.rate_difference(c.served_x, c.served_n, c.holdout_x, c.holdout_n).covers(effect)
    # 95 % over 300 chains: a binomial standard error of 1.3 points; ±3.5 points is 2.7 of them.
    assert 0.915 <= covered / seeds <= 0.985, covered / seeds


def test_with_the_sample_it_asks_for_it_detects_the_difference_about_80_percent_of_the_time():
    rng = random.Random("power")
    served, holdout = uplift.customers_needed(0.3, 0.1, 0.25)
    detected, runs = 0, 300
    for _ in range(runs):
        xs = sum(rng.random() < 0.4 for _ in range(served))
        xh = sum(rng.random() < 0.3 for _ in range(holdout))
        detected += uplift.rate_difference(xs, served, xh, holdout).low > 0
    assert 0.72 <= detected / runs <= 0.88, detected / runs


def test_more_needed_counts_customers_until_both_arms_are_big_enough():
    needed = (800, 200)
    assert uplift.more_needed(800, 200, needed, 0.2) == 0
    assert uplift.more_needed(700, 200, needed, 0.2) == 125     # 100 short of 80 %
    assert uplift.more_needed(800, 150, needed, 0.2) == 250     # 50 short of 20 %
    assert uplift.more_needed(0, 0, needed, 0.2) == 1000


@hsettings(max_examples=200)
@given(st.floats(0.0, 1.0), st.floats(0.01, 0.45), st.floats(0.01, 0.5))
def test_a_sample_size_exists_for_any_baseline_and_difference_the_page_allows(baseline, difference, share):
    served, holdout = uplift.customers_needed(baseline, difference, share)
    assert served >= 1 and holdout >= 1
