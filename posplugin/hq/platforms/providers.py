"""Provider exports (HypeAuditor, Modash) for customers who consented and
gave a public handle instead of linking their account.

Only rows whose handle a customer gave on /join and proved are used (each
handle proved by one customer at most); every other row of the export is
counted and dropped, never stored. A file with a bad row is
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

from collections.abc import Iterable, Iterator

from sqlalchemy import Engine, and_, update

from ...errors import ImportRefused, ValidationError
from ...tiers.csvfile import CsvReader, Problems, decimal
from ...tiers.lists import parse_engagement, parse_followers
from ..schema import linked_accounts

PROVIDERS = ("hypeauditor", "modash")
COLUMNS = {
    "hypeauditor": {"handle": ("username", "handle"), "followers": ("followers_count", "followers"),
                    "engagement": ("er", "engagement_rate"), "likes": ("avg_likes",),
                    "comments": ("avg_comments",)},
    "modash": {"handle": ("username", "handle"), "followers": ("followers",),
               "engagement": ("engagementrate", "engagement_rate"), "likes": (), "comments": ()},
}


def read_export(stream: Iterable[bytes | str], provider: str) -> Iterator[tuple[int, object]]:
    """``(line, (handle, followers, engagement))`` per row, or ``(line, reason)`` for a bad one."""
    if provider not in PROVIDERS:
        raise ValidationError(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    wanted = COLUMNS[provider]
    reader = CsvReader(stream, [wanted["handle"], wanted["followers"]],
                       optional=[names for key, names in wanted.items() if key not in ("handle", "followers") and names])
    at = {key: reader.at.get(names[0]) if names else None for key, names in wanted.items()}
    if at["engagement"] is None and (at["likes"] is None or at["comments"] is None):
        raise ImportRefused([(1, f"a {provider} export needs columns {', '.join(n[0] for n in wanted.values() if n)}")])

    def parse(cells: list[str], _) -> tuple[str, int, float]:
        handle = cells[at["handle"]].strip().lstrip("@").casefold()
        if not handle:
            raise ValueError("username is empty")
        followers = parse_followers(cells[at["followers"]])
        if at["engagement"] is not None and cells[at["engagement"]].strip():
            engagement = parse_engagement(cells[at["engagement"]])
        elif at["likes"] is not None and at["comments"] is not None:
            engagement = (decimal(cells[at["likes"]] or "0") + decimal(cells[at["comments"]] or "0")) / max(followers, 1)
        else:
            raise ValueError("no engagement rate")
        return handle, followers, min(engagement, 1.0)

    return reader.rows(parse)


def import_export(engine: Engine, stream: Iterable[bytes | str], provider: str, *, clock,
                  platform: str = "instagram") -> dict:
    """Apply a provider export to the handles customers gave; refused whole on a bad row."""
    problems = Problems()
    rows = {row[0]: row for row in problems.good(read_export(stream, provider))}
    if problems:
        problems.refuse()
    now = clock()
    matched = 0
    with engine.begin() as conn:
        for handle, followers, engagement in rows.values():
            # Only a handle its owner proved (one customer's, by the phrase); a
            # handle merely typed in on /join matches nothing.
            matched += conn.execute(update(linked_accounts).where(and_(
                linked_accounts.c.platform == platform, linked_accounts.c.source == "handle",
                linked_accounts.c.handle == handle, linked_accounts.c.status == "linked",
                linked_accounts.c.proved_at.is_not(None))).values(
                followers=followers, engagement_rate=engagement, posts=None, measured_at=now,
                last_error=None, failures=0)).rowcount > 0
    return {"rows": len(rows), "matched": matched, "dropped": len(rows) - matched}
