"""Which store a post is about, and the lane it names, in the order
docs/listening.md gives: a store named by the source, the store's own
handles or hashtags, its Instagram location, its place name in the text,
then a consented customer's recent visit. A post that names no store goes
to the chain's inbox only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .mentions import mentions
from .placement import Place

# "till 3", "lane 3", "kasse 3", "kassa nr. 3", "checkout #3"
LANE = re.compile(r"\b(?:till|lane|checkout|register|kasse|kassa|kassen|counter)\s*(?:nr\.?|no\.?|number|#)?\s*"
                  r"(\d{1,3})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    store: str | None
    how: str  # given | handle | location | place | visit | none
    lane: str | None


def lane_in(text: str) -> str | None:
    """The lane a text names ("kasse 3" → "3"), or None."""
    match = LANE.search(text or "")
    return match.group(1).lstrip("0") or "0" if match else None


def _place_named(text: str, place: str) -> bool:
    return bool(place) and re.search(r"(?<!\w)" + re.escape(place.casefold()) + r"(?!\w)",
                                     (text or "").casefold()) is not None


def route(text: str, places: list[Place], *, given: str | None = None, location: str | None = None,
          visit_store: str | None = None) -> Route:
    """Where a post goes; ``visit_store`` is the store of the author's latest
    consented visit within ``heard_max_age_minutes``, if any."""
    lane = lane_in(text)
    known = {p.store for p in places}
    if given and given in known:
        return Route(given, "given", lane)
    by_handle = [p.store for p in places if p.handles and mentions(text, p.handles)]
    if len(by_handle) == 1:
        return Route(by_handle[0], "handle", lane)
    if location:
        by_location = [p.store for p in places if p.instagram_location and p.instagram_location == location]
        if by_location:
            return Route(by_location[0], "location", lane)
    # Two stores' handles in one post: the text cannot say which; neither can its place names.
    by_place = [] if by_handle else [p.store for p in places if _place_named(text, p.place)]
    if len(by_place) == 1:
        return Route(by_place[0], "place", lane)
    if visit_store:
        return Route(visit_store, "visit", lane)
    return Route(None, "none", lane)
