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
