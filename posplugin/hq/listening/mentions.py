"""Posts that mention the chain: the experiment's fourth outcome, for
customers who joined with consent to measurement and linked their accounts.

``chain_handles`` lists the chain's handles and hashtags (``@chain, #chain``);
a post mentions the chain when its text holds one of them as a whole word,
case-folded. Counted within 7 days after a visit.

Head office counts them (:mod:`posplugin.hq.listening.outcomes`, the
experiment's ``posts_7``) from the posts listening kept for customers who
consented to listening, against the visits stores report for them (keyed
hash and time); listening also uses :func:`mentions` to keep a post that
names the chain.
"""

from __future__ import annotations

import re

WINDOW_S = 7 * 86_400.0


def parse_handles(text: str) -> tuple[str, ...]:
    """The ``chain_handles`` setting as case-folded tokens, each with its ``@`` or ``#``."""
    tokens = []
    for part in re.split(r"[,\s]+", text or ""):
        part = part.strip().casefold()
        if len(part) > 1 and part[0] in "@#":
            tokens.append(part)
        elif part:
            tokens += [f"@{part}", f"#{part}"]
    return tuple(dict.fromkeys(tokens))


def mentions(text: str, handles: tuple[str, ...]) -> bool:
    """True when ``text`` holds one of ``handles`` as a whole word."""
    words = set(re.findall(r"[@#][\w.]+", (text or "").casefold()))
    words |= {w.rstrip(".") for w in words}
    return any(h in words for h in handles)


def posts_after_visits(posts: list[dict], visits: list[float], handles: tuple[str, ...],
                       window_s: float = WINDOW_S) -> int:
    """How many of a customer's ``posts`` (``{"at": epoch seconds, "text": …}``)
    mention the chain within ``window_s`` after any of their ``visits``
    (epoch seconds). A post counts once however many visits precede it."""
    return sum(1 for post in posts
               if mentions(post.get("text", ""), handles)
               and any(0 <= post["at"] - visit <= window_s for visit in visits))
