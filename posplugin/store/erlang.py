"""Staffing arithmetic: Little's law for waits, Erlang C for how many tills."""

from __future__ import annotations

import math


def wait_by_littles_law(length: int, service_time_s: float, servers: int = 1) -> float:
    """Expected wait of a customer joining now: the people ahead of them, served
    ``servers`` at a time, each taking ``service_time_s``."""
    if length <= 0:
        return 0.0
    return length * service_time_s / max(1, servers)


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arriving customer has to wait (Erlang C), for
    ``offered_load`` = arrival rate × service time, in erlangs."""
    if servers <= 0:
        return 1.0
    if offered_load <= 0:  # no mutate: at exactly 0 the formula below gives 0 as well
        return 0.0
    if offered_load >= servers:
        return 1.0
    # Sum A^k/k! iteratively so large loads do not overflow.
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= offered_load / k
        total += term
    last = term * offered_load / servers * servers / (servers - offered_load)
    return last / (total + last)


def expected_wait(servers: int, arrival_rate: float, service_time_s: float) -> float:
    """Mean time in queue (seconds) with ``servers`` tills; infinite when overloaded."""
    load = arrival_rate * service_time_s
    if servers <= 0 or load >= servers:
        return math.inf
    if arrival_rate <= 0:
        return 0.0
    return erlang_c(servers, load) * service_time_s / (servers - load)


def tills_needed(arrival_rate: float, service_time_s: float, target_wait_s: float,
                 max_tills: int = 50) -> int:
    """The fewest tills whose expected wait is at most ``target_wait_s``
    (``max_tills`` if none is enough)."""
    for servers in range(1, max_tills + 1):
        if expected_wait(servers, arrival_rate, service_time_s) <= target_wait_s:
            return servers
    return max_tills
