"""Assignment to the experiment's arms: stable for a customer, balanced at the
holdout share, independent between experiments, and nothing without an
experiment."""

import math
import random

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from posplugin.tiers import holdout

keys = st.text(min_size=16, max_size=64)
names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
customers = st.binary(min_size=32, max_size=32)


@hsettings(max_examples=200)
@given(keys, names, customers, st.floats(0.01, 0.5))
def test_a_customer_is_in_the_same_arm_at_every_visit_and_store(key, name, customer, share):
    first = holdout.arm(key, name, customer, share)
    assert first in holdout.ARMS
    assert all(holdout.arm(key, name, bytes(customer), share) == first for _ in range(3))
    assert holdout.arm(key.encode(), name, customer, share) == first  # key as text or bytes


@hsettings(max_examples=30, deadline=None)
@given(keys, names, st.floats(0.05, 0.5), st.integers(0, 2**32))
def test_arms_are_balanced_at_the_holdout_share(key, name, share, seed):
    rng = random.Random(seed)
    n = 4000
    held = sum(holdout.arm(key, name, rng.randbytes(32), share) == holdout.HOLDOUT for _ in range(n))
    # Binomial(n, share): 4.5 standard errors either side fails about once in 150,000.
    assert abs(held - n * share) <= 4.5 * math.sqrt(n * share * (1 - share))


@hsettings(max_examples=100)
@given(keys, names, customers, st.floats(0.01, 0.5), st.floats(0.01, 0.5))
def test_a_larger_share_only_adds_customers_to_the_holdout(key, name, customer, a, b):
    low, high = sorted((a, b))
    if holdout.arm(key, name, customer, low) == holdout.HOLDOUT:
        assert holdout.arm(key, name, customer, high) == holdout.HOLDOUT


@hsettings(max_examples=50)
@given(keys, customers)
def test_no_experiment_or_no_share_holds_no_one_out(key, customer):
    assert holdout.arm(key, "", customer, 0.5) == holdout.SERVED
    assert holdout.arm(key, "x", customer, 0.0) == holdout.SERVED


def test_a_new_experiment_draws_a_new_assignment_and_another_key_another():
    rng = random.Random(7)
    people = [rng.randbytes(32) for _ in range(4000)]
    key = "k" * 32
    first = [holdout.arm(key, "spring", c, 0.5) for c in people]
    second = [holdout.arm(key, "autumn", c, 0.5) for c in people]
    other_key = [holdout.arm("j" * 32, "spring", c, 0.5) for c in people]
    for other in (second, other_key):
        same = sum(a == b for a, b in zip(first, other)) / len(people)
        assert 0.46 < same < 0.54  # independent halves agree half the time
