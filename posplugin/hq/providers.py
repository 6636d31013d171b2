"""Provider exports (HypeAuditor, Modash) for customers who consented and
gave a public handle instead of linking their account.

Only rows whose handle a customer gave on /join are used; every other row of
the export is counted and dropped, never stored. A file with a bad row is
refused whole, with line numbers, like a tier CSV.

Columns relied on (matched case-insensitively; see docs/platforms.md for
what is confirmed and what is assumed):

* HypeAuditor: ``username``; ``followers_count`` (or ``followers``);
  ``er`` (or ``engagement_rate``, a fraction or a percentage) or else
  ``avg_likes`` + ``avg_comments`` over followers.
* Modash: ``username`` (or ``handle``); ``followers``; ``engagementRate``
  (or ``engagement_rate``), a fraction.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Engine, and_, update

from ..errors import ImportRefused, ValidationError
from ..tiers.lists import parse_engagement, parse_followers
from .schema import linked_accounts

PROVIDERS = ("hypeauditor", "modash")
COLUMNS = {
    "hypeauditor": {"handle": ("username", "handle"), "followers": ("followers_count", "followers"),
                    "engagement": ("er", "engagement_rate"), "likes": ("avg_likes",),
                    "comments": ("avg_comments",)},
    "modash": {"handle": ("username", "handle"), "followers": ("followers",),
               "engagement": ("engagementrate", "engagement_rate"), "likes": (), "comments": ()},
}


def read_export(stream: IO[str], provider: str) -> Iterator[tuple[int, object]]:
    """``(line, (handle, followers, engagement))`` per row, or ``(line, reason)`` for a bad one."""
    if provider not in PROVIDERS:
        raise ValidationError(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    reader = csv.reader(stream)
    header = [h.strip().lstrip("\ufeff").lower() for h in next(reader, [])]
    wanted = COLUMNS[provider]
    at = {name: next((header.index(c) for c in names if c in header), None) for name, names in wanted.items()}
    if at["handle"] is None or at["followers"] is None or (
            at["engagement"] is None and (at["likes"] is None or at["comments"] is None)):
        raise ImportRefused([(1, f"a {provider} export needs columns {', '.join(n[0] for n in wanted.values() if n)}")])
    for cells in reader:
        line = reader.line_num
        if not cells or cells == [""]:
            continue
        try:
            handle = cells[at["handle"]].strip().lstrip("@").casefold()
            if not handle:
                raise ValueError("username is empty")
            followers = parse_followers(cells[at["followers"]])
            if at["engagement"] is not None and cells[at["engagement"]].strip():
                engagement = parse_engagement(cells[at["engagement"]])
            elif at["likes"] is not None and at["comments"] is not None:
                engagement = (float(cells[at["likes"]] or 0) + float(cells[at["comments"]] or 0)) / max(followers, 1)
            else:
                raise ValueError("no engagement rate")
            yield line, (handle, followers, min(engagement, 1.0))
        except (ValueError, IndexError) as exc:
            yield line, str(exc) or "unreadable row"


def import_export(engine: Engine, stream: IO[str], provider: str, *, clock, platform: str = "instagram") -> dict:
    """Apply a provider export to the handles customers gave; refused whole on a bad row."""
    rows, bad = {}, []
    for line, row in read_export(stream, provider):
        if isinstance(row, str):
            bad.append((line, row))
        else:
            rows[row[0]] = row
    if bad:
        raise ImportRefused(bad[:50], total_bad=len(bad))
    now = clock()
    matched = 0
    with engine.begin() as conn:
        for handle, followers, engagement in rows.values():
            matched += conn.execute(update(linked_accounts).where(and_(
                linked_accounts.c.platform == platform, linked_accounts.c.source == "handle",
                linked_accounts.c.handle == handle, linked_accounts.c.status == "linked")).values(
                followers=followers, engagement_rate=engagement, posts=None, measured_at=now,
                last_error=None, failures=0)).rowcount
    return {"rows": len(rows), "matched": matched, "dropped": len(rows) - matched}
