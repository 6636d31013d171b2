"""What head office last published about one customer: their line in the
current snapshot (sorted by hash), found by binary search over the file, so
a customer's page shows exactly the figures a store's till would see."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...tiers import feed


@dataclass(frozen=True)
class Published:
    version: int
    followers: int
    engagement_rate: float
    niches: tuple[str, ...]


def find(path: Path, customer: bytes) -> tuple[int, float, tuple[str, ...]] | None:
    """The snapshot line of ``customer`` in the sorted snapshot at ``path``, or
    None. O(log n) reads: lines differ in length, so each probe seeks to a byte
    and reads on to the next line start."""
    target = customer.hex().encode()
    with open(path, "rb") as f:
        low, high = 0, os.fstat(f.fileno()).st_size
        while low < high:
            middle = (low + high) // 2
            start, line = _line_from(f, middle)
            if not line or start >= high:
                high = middle
                continue
            key = line[:64]
            if key == target:
                _, followers, rate, niches = feed.parse_snapshot_line(line.decode("utf-8"))
                return followers, rate, niches
            if key < target:
                low = start + len(line)
            else:
                high = middle
        # ``middle`` may have skipped the line that starts exactly at ``low``.
        _, line = _line_at(f, low)
        if line[:64] == target:
            _, followers, rate, niches = feed.parse_snapshot_line(line.decode("utf-8"))
            return followers, rate, niches
    return None


def _line_from(f, offset: int) -> tuple[int, bytes]:
    """The first whole line starting at or after ``offset``."""
    if offset == 0:
        return _line_at(f, 0)
    f.seek(offset - 1)
    if f.read(1) != b"\n":
        f.readline()
    start = f.tell()
    return start, f.readline()


def _line_at(f, offset: int) -> tuple[int, bytes]:
    f.seek(offset)
    return offset, f.readline()
