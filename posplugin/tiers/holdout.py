"""Which arm of the chain's holdout experiment a customer is in.

A keyed hash (HMAC-SHA256 under the chain's identifier key) of the
experiment's name and the customer's identifier hash, read as a number in
[0, 1): below ``holdout_share`` the customer is held out. Every store and head
office compute the same arm for the same customer, at every visit, without
storing or sending anything; a new experiment name draws a fresh, independent
assignment; without the key nobody can tell a customer's arm from their hash.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SHARE = 0.5  # the largest share a chain may hold out (the feed refuses a manifest beyond it)

HOLDOUT = "holdout"
SERVED = "served"
ARMS = (SERVED, HOLDOUT)


def position(id_key: str | bytes, experiment: str, customer: bytes) -> float:
    """The customer's place in [0, 1) for ``experiment``."""
    key = id_key.encode("utf-8") if isinstance(id_key, str) else id_key
    digest = hmac.new(key, b"holdout\x00" + experiment.encode("utf-8") + b"\x00" + customer,
                      hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def arm(id_key: str | bytes, experiment: str, customer: bytes, holdout_share: float) -> str:
    """``holdout`` or ``served`` for the customer whose identifier hash is ``customer``."""
    if not experiment or holdout_share <= 0:
        return SERVED
    return HOLDOUT if position(id_key, experiment, customer) < holdout_share else SERVED
