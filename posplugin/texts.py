"""Words shown to staff: prompt titles and bodies.

Kept apart from the logic so every sentence a cashier reads is in one place,
and numbers are formatted for the store's language.
"""

from __future__ import annotations

from babel.numbers import format_decimal, format_percent

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


def number(n: int | float, language: str = "en") -> str:
    return format_decimal(n, locale=language)


def percent(rate: float, language: str = "en") -> str:
    return format_percent(rate, format="#,##0.#%", locale=language)


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
