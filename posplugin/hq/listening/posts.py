"""The one shape every source hands a post in (and ``POST /hq/v1/heard``
takes): where it was posted, its id there, its address, its text, when, and
what the source knows of why head office may read it."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TEXT = 5_000
EXCERPT = 280
_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Post:
    source: str                    # instagram, bluesky, mastodon, linked:instagram, or a plugin's name
    id: str                        # the platform's own id (media id, at:// URI, status id)
    url: str                       # where a person reads it
    text: str
    at: float                      # when it was posted (epoch seconds)
    # Why head office may read it: the source found it addressed to the
    # chain (a mention or tag of the chain's account), or it is a consented
    # customer's own post. Otherwise the text must mention chain_handles.
    addressed: bool = False
    customer_id: int | None = None
    store: str | None = None       # a store the source already knows (a care tool's routing)
    location: str | None = None    # the platform's location id (Instagram)
    language: str | None = None    # the post's own language tag, if it has one
    # The author as the platform names them; used only to find a consented
    # customer, never stored, never logged.
    author: str | None = None


def plain_text(text: str, *, html: bool = False) -> str:
    """The text, whitespace collapsed, at most MAX_TEXT characters. With
    ``html`` (Mastodon sends a status's content as HTML) its tags are dropped
    and entities decoded; plain text (Instagram, Bluesky) is kept as written,
    markup and all: every page shows it as text."""
    text = text or ""
    if html:
        text = _TAG.sub(" ", text.replace("<br>", "\n").replace("</p>", "\n"))
        for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&")):
            text = text.replace(entity, char)
    return _SPACE.sub(" ", text).strip()[:MAX_TEXT]


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The first ``limit`` characters, cut at a word, for the floor."""
    text = _SPACE.sub(" ", text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# Meta's permalink of a post (`permalink` in the Graph API): its shortcode
# only. Bluesky's and Mastodon's addresses carry the author's handle or DID.
_ANONYMOUS_URL = re.compile(r"^https://(www\.)?instagram\.com/(p|reel|tv)/[A-Za-z0-9_-]+/?$")


def floor_url(url: str) -> str:
    """The post's address for the floor's ``post_url`` when the address does
    not name its author, else "": the floor never learns who posted."""
    return url if _ANONYMOUS_URL.match(url or "") else ""
