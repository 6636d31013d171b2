"""Words shown to staff: prompt titles and bodies.

Kept apart from the logic so every sentence a cashier reads is in one place,
and numbers are formatted for the store's language.
"""

from __future__ import annotations

import functools

from babel import Locale

LEVEL_TITLES = {
    "murdoch": "Murdoch-level service",
    "priority": "Priority service",
}
TIER_NAMES = {
    "everyday": "Everyday customer",
    "nano": "Nano-influencer",
    "micro": "Micro-influencer",
    "macro": "Macro-influencer",
    "mega": "Mega-influencer",
}
ACTIONS = {
    "murdoch": "Greet them by name, take your time, make sure everything works, and offer "
               "something extra (a sample, a carry-out, a manager's hello).",
    "priority": "Greet them warmly, keep it smooth and quick, and thank them for coming.",
}


@functools.lru_cache(maxsize=None)
def _symbols(language: str) -> tuple[str, str, str]:
    """Group separator, decimal sign and percent pattern from the locale's CLDR data.
    Babel's own formatters re-read the locale on every call, which costs more
    than the rest of identify; a prompt only needs integers and one-decimal percents."""
    locale = Locale.parse(language)
    symbols = locale.number_symbols.get("latn", locale.number_symbols)
    pattern = locale.percent_formats[None].pattern.split(";")[0]
    return symbols["group"], symbols["decimal"], pattern


def number(n: int | float, language: str = "en") -> str:
    """A whole number with the locale's grouping, e.g. 4,200 (en) or 4 200 (nb)."""
    group, _, _ = _symbols(language)
    return f"{round(n):,}".replace(",", group)


def percent(rate: float, language: str = "en") -> str:
    """A fraction as a percentage with at most one decimal, e.g. 6.2% (en) or 6,2 % (nb)."""
    _, decimal, pattern = _symbols(language)
    digits = f"{rate * 100:.1f}".rstrip("0").rstrip(".").replace(".", decimal)
    return pattern.replace("#,##0", digits).replace("#0", digits)


def service_prompt(*, level: str, tier: str, followers: int, engagement_rate: float,
                   engaged_reach: int, niches: tuple[str, ...] | list[str],
                   display_name: str | None, language: str = "en") -> dict:
    """Title, body and the parts the cashier's card shows on separate lines."""
    title = LEVEL_TITLES[level] + (f": {display_name}" if display_name else "")
    who = (f"{TIER_NAMES[tier]}: {number(followers, language)} followers, "
           f"{percent(engagement_rate, language)} engagement, about "
           f"{number(engaged_reach, language)} people engage with each post.")
    action = ACTIONS[level]
    body = f"{who} {action}"
    if niches:
        body += " Into: " + ", ".join(niches) + "."
    return {"title": title, "body": body, "who": who, "action": action}


PAIN_KINDS = {
    "queue": "a long queue",
    "instructions": "instructions that confuse customers",
    "staff": "not enough staff",
    "stock": "missing stock",
    "other": "a problem",
}


def minutes(seconds: float, language: str = "en") -> str:
    """A wait in words: "under a minute" or "about 6 minutes"."""
    if seconds < 60:
        return "under a minute"
    return f"about {number(round(seconds / 60), language)} minutes"


def queue_pain_prompt(*, lane: str, length: int, normal: float, wait_s: float, influencers: int,
                      reach: int, language: str = "en") -> dict:
    """A queue longer than normal: which lane, how long versus normal, the wait,
    and the reach waiting in it."""
    title = f"Long queue at lane {lane}: {number(length, language)} waiting"
    body = (f"{number(length, language)} waiting at lane {lane} (normal now: "
            f"{number(normal, language)}), {minutes(wait_s, language)}.")
    if influencers:
        who = "1 known influencer" if influencers == 1 else \
            f"{number(influencers, language)} known influencers"
        between = "" if influencers == 1 else " between them"
        body += f" {who} waiting, {number(reach, language)} engaged followers{between}."
    body += " Open another till or go help."
    return {"title": title, "body": body}


def painpoint_prompt(*, kind: str, lane: str | None, note: str | None, by: str | None,
                     language: str = "en") -> dict:
    """A pain point reported by staff."""
    where = f" at lane {lane}" if lane else ""
    title = f"Pain point{where}: {PAIN_KINDS[kind]}"
    body = f"Reported by {by}" if by else "Reported"
    body += f": {note}" if note else "."
    if not body.endswith("."):
        body += "."
    body += " Fix it, then mark it done."
    return {"title": title, "body": body}


def recommendation(*, extra: int, waiting: int, wait_s: float, target_s: float, open_lanes: int,
                   basis: str, language: str = "en") -> str:
    """Why the recommendation says what it says, in one sentence."""
    if waiting == 0:
        return "No one is waiting."
    now = (f"{number(waiting, language)} waiting at {number(open_lanes, language)} open "
           f"till{'s' if open_lanes != 1 else ''}, {minutes(wait_s, language)} expected")
    if extra <= 0:
        return f"{now}: within the {minutes(target_s, language).replace('about ', '')} target."
    return (f"{now} ({basis}): open {number(extra, language)} more till{'s' if extra != 1 else ''} "
            f"to get under {minutes(target_s, language).replace('about ', '')}.")
