"""Little's law and Erlang C: known values and the properties staffing relies on."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.store import baseline, erlang


def test_erlang_c_textbook_value():
    # 2 servers, 1 erlang offered: P(wait) = 1/3.
    assert erlang.erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_overloaded_is_infinite_wait():
    assert erlang.expected_wait(2, arrival_rate=1 / 30, service_time_s=90) == math.inf


@given(st.floats(0.0001, 0.5), st.floats(5, 600), st.integers(1, 30))
def test_more_tills_never_wait_longer(rate, service, servers):
    assert erlang.expected_wait(servers + 1, rate, service) <= erlang.expected_wait(servers, rate, service)


@given(st.floats(0.0001, 0.2), st.floats(5, 300), st.floats(10, 900))
def test_tills_needed_meets_the_target_with_the_fewest(rate, service, target):
    needed = erlang.tills_needed(rate, service, target)
    if needed < 50:
        assert erlang.expected_wait(needed, rate, service) <= target
    if needed > 1:
        assert erlang.expected_wait(needed - 1, rate, service) > target


@pytest.mark.parametrize("length,normal,status", [
    (0, 0, "ok"), (1, 0, "busy"), (2, 0, "long"),                 # normal + 2 decides at the bottom
    (3, 3, "ok"), (4, 3, "busy"), (5, 3, "long"),
    (5, 4, "busy"), (6, 4, "long"),                              # 1.5 × 4 = 6 = 4 + 2: both agree
    (8, 8, "ok"), (9, 8, "busy"), (11, 8, "busy"), (12, 8, "long"),  # 1.5 × normal decides above 4
    (14, 10, "busy"), (15, 10, "long"), (2, 2.5, "ok"), (3, 2.5, "busy"), (4, 2.5, "busy"), (5, 2.5, "long"),
])
def test_status_rule_of_design(length, normal, status):
    assert baseline.status(length, normal, factor=1.5, margin=2) == status


@given(st.integers(0, 10_000), st.floats(0, 1000))
def test_status_never_falls_as_the_queue_grows(length, normal):
    order = baseline.STATUSES
    here = baseline.status(length, normal, factor=1.5, margin=2)
    assert order.index(baseline.status(length + 1, normal, factor=1.5, margin=2)) >= order.index(here)


def test_littles_law():
    assert erlang.wait_by_littles_law(6, 60) == 360 and erlang.wait_by_littles_law(0, 60) == 0


@pytest.mark.parametrize("length,service,servers,wait", [
    (0, 60, 1, 0), (-1, 60, 1, 0), (1, 60, 1, 60), (6, 60, 2, 180), (6, 60, 0, 360), (3, 90, 3, 90),
])
def test_littles_law_values(length, service, servers, wait):
    assert erlang.wait_by_littles_law(length, service, servers) == wait


@pytest.mark.parametrize("servers,load,p", [
    (1, 0.5, 0.5),          # M/M/1: the chance of waiting is the utilisation
    (3, 2.0, 4 / 9),        # A^N/N! · N/(N−A) = 4 over 1 + 2 + 2 + 4
    (2, 0.0, 0.0), (2, -1.0, 0.0), (0, 0.5, 1.0), (0, 0.0, 1.0), (2, 2.0, 1.0), (2, 3.0, 1.0),
])
def test_erlang_c_values(servers, load, p):
    assert erlang.erlang_c(servers, load) == pytest.approx(p)


@pytest.mark.parametrize("servers,rate,service,wait", [
    (1, 1 / 60, 30, 30.0),        # M/M/1: ρ/(μ−λ) = 0.5 / (1/30 − 1/60)
    (3, 1 / 15, 30, 30 * (4 / 9) / 1),
    (2, 0.0, 30, 0.0), (0, 1 / 60, 30, math.inf), (1, 1 / 30, 30, math.inf),
])
def test_expected_wait_values(servers, rate, service, wait):
    assert erlang.expected_wait(servers, rate, service) == pytest.approx(wait)


def test_tills_needed_at_the_target_exactly_and_when_nothing_is_enough():
    assert erlang.tills_needed(1 / 60, 30, 30) == 1       # a wait equal to the target is good enough
    assert erlang.tills_needed(1 / 60, 30, 29.9) == 2
    assert erlang.tills_needed(1 / 60, 30, 0, max_tills=5) == 5
