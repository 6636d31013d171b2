"""The tier policy of DESIGN.md: labels by followers, service by engaged reach."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.tiers.policy import (
    SERVICE_LEVELS,
    TIERS,
    Policy,
    capped,
    engaged_reach,
    needs_prompt,
)

policy = Policy()


@pytest.mark.parametrize("followers,tier", [
    (0, "everyday"), (999, "everyday"), (1_000, "nano"), (9_999, "nano"), (10_000, "micro"),
    (99_999, "micro"), (100_000, "macro"), (999_999, "macro"), (1_000_000, "mega"),
])
def test_tier_boundaries(followers, tier):
    assert policy.tier(followers) == tier


@pytest.mark.parametrize("reach,level", [
    (0, "standard"), (49, "standard"), (50, "priority"), (199, "priority"), (200, "murdoch"),
])
def test_service_level_boundaries(reach, level):
    assert policy.service_level(reach) == level


@pytest.mark.parametrize("followers,rate,tier,level,reach", [
    (4_200, 0.062, "nano", "murdoch", 260),      # DESIGN.md: small but engaged
    (45_000, 0.003, "micro", "priority", 135),   # DESIGN.md: big but disengaged
    (2_000_000, 0.00001, "mega", "standard", 20),
])
def test_design_examples(followers, rate, tier, level, reach):
    score = policy.score(followers, rate)
    assert (score.tier, score.service_level, score.engaged_reach) == (tier, level, reach)


def test_thresholds_are_configurable():
    strict = Policy(priority=100, murdoch=1_000)
    assert strict.score(4_200, 0.062).service_level == "priority"


@given(st.integers(0, 10**10), st.floats(0, 1))
def test_reach_is_rounded_product(followers, rate):
    reach = engaged_reach(followers, rate)
    assert abs(reach - followers * rate) <= 0.5 + 1e-6 * followers


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.floats(0, 1))
def test_more_followers_never_lowers_tier_or_service(a, b, rate):
    low, high = sorted((a, b))
    s_low, s_high = policy.score(low, rate), policy.score(high, rate)
    assert TIERS.index(s_low.tier) <= TIERS.index(s_high.tier)
    assert SERVICE_LEVELS.index(s_low.service_level) <= SERVICE_LEVELS.index(s_high.service_level)


@pytest.mark.parametrize("level,prompt", [("standard", False), ("priority", True), ("murdoch", True)])
def test_prompts_only_above_standard(level, prompt):
    assert needs_prompt(level) is prompt


@pytest.mark.parametrize("followers,rate,reach", [
    (525, 0.5, 263),     # an exact half rounds up (Python's round() would give 262)
    (527, 0.5, 264),     # and not to even either way
    (4_250, 0.062, 264), (1, 0.5, 1), (3, 0.5, 2), (1, 0.49, 0),
])
def test_engaged_reach_rounds_half_up(followers, rate, reach):
    assert engaged_reach(followers, rate) == reach
    assert policy.score(followers, rate).engaged_reach == reach


def test_exact_half_crosses_a_threshold_up():
    # 99 × 0.5 = 49.5 → 50 engaged: priority, not standard.
    assert policy.score(99, 0.5).service_level == "priority"
    assert Policy(murdoch=263).score(525, 0.5).service_level == "murdoch"


@pytest.mark.parametrize("level,verify_level,verified,expected", [
    ("murdoch", "none", False, "murdoch"),
    ("murdoch", "murdoch", False, "priority"),
    ("murdoch", "murdoch", True, "murdoch"),
    ("priority", "murdoch", False, "priority"),
    ("murdoch", "priority", False, "standard"),
    ("priority", "priority", False, "standard"),
    ("priority", "priority", True, "priority"),
    ("standard", "priority", False, "standard"),
])
def test_capped_holds_back_levels_from_verify_level_without_a_pass(level, verify_level, verified, expected):
    assert capped(level, verify_level, verified) == expected
