"""Words shown to staff: prompt titles and bodies, in the store's language.

Every sentence lives in a message catalogue (``posplugin/locales/<lang>.json``,
English and Norwegian Bokmål), so a translation never touches the logic, and
numbers are formatted for the language from Babel's CLDR data.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
from pathlib import Path

from babel import Locale

LANGUAGES = ("en", "nb")
_LOCALES = Path(__file__).resolve().parent / "locales"


@functools.lru_cache(maxsize=None)
def catalogue(language: str) -> dict[str, str]:
    """The messages of ``language`` (English for anything it lacks)."""
    english = json.loads((_LOCALES / "en.json").read_text(encoding="utf-8"))
    if language == "en":
        return english
    return {**english, **json.loads((_LOCALES / f"{language}.json").read_text(encoding="utf-8"))}


def _(key: str, language: str, **values) -> str:
    return catalogue(language)[key].format(**values)


def message(key: str, language: str = "en", **values) -> str:
    """One message of the catalogue, filled in (for pages that compose their own)."""
    return _(key, language if language in LANGUAGES else "en", **values)


def say(key: str, language: str = "en", **values) -> str:
    """Any message of the catalogue by its key, filled in (the demo's console lines)."""
    return message(key, language, **values)


@functools.lru_cache(maxsize=None)
def _symbols(language: str) -> tuple[str, str, str]:
    """Group separator, decimal sign and percent pattern from the locale's CLDR data.
    Babel's own formatters re-read the locale on every call, which costs more
    than the rest of identify; a prompt only needs integers and one-decimal percents."""
    locale = Locale.parse(language)
    symbols = locale.number_symbols.get("latn", locale.number_symbols)
    pattern = locale.percent_formats[None].pattern.split(";")[0]
    return symbols["group"], symbols["decimal"], pattern


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` of a thing in English (the command line's words): "1 row", "9,707 rows"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def number(n: int | float, language: str = "en") -> str:
    """A whole number with the locale's grouping, e.g. 4,200 (en) or 4 200 (nb)."""
    group, _, _ = _symbols(language)
    return f"{round(n):,}".replace(",", group)


def percent(rate: float, language: str = "en") -> str:
    """A fraction as a percentage with at most one decimal, e.g. 6.2% (en) or 6,2 % (nb)."""
    _, decimal, pattern = _symbols(language)
    digits = f"{rate * 100:.1f}".rstrip("0").rstrip(".").replace(".", decimal)
    return pattern.replace("#,##0", digits).replace("#0", digits)


def date(when: float | str | _dt.datetime, language: str = "en", tz: _dt.tzinfo | None = None) -> str:
    """A day as every page writes it in ``language`` ("2 Dec 2026", "2. des. 2026"):
    one format per language, from the catalogue, the same as the pages' own
    (static/words.js). ``when`` is epoch seconds, ISO 8601 or a datetime; the
    day is the one in ``tz`` (UTC when not given)."""
    if isinstance(when, str):
        when = _dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    elif not isinstance(when, _dt.datetime):
        when = _dt.datetime.fromtimestamp(when, _dt.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    moment = when.astimezone(tz or _dt.timezone.utc)
    language = language if language in LANGUAGES else "en"
    months = _("date.months", language).split(" ")
    return _("date.format", language, day=moment.day, month=months[moment.month - 1], year=moment.year)


def interests(niches, language: str = "en") -> list[str]:
    """A customer's niches as staff and the customer read them: the common ones
    in the page's language (``niche.<name>`` in the catalogue), a chain's own
    words as the tier list has them."""
    words = catalogue(language if language in LANGUAGES else "en")
    return [words.get(f"niche.{n.strip().lower()}", n) for n in niches]


def service_prompt(*, level: str, tier: str, followers: int, engagement_rate: float,
                   engaged_reach: int, niches: tuple[str, ...] | list[str],
                   display_name: str | None, language: str = "en", verify_for: str | None = None) -> dict:
    """Title, body and the parts the cashier's card shows on separate lines. With
    ``verify_for`` (a level held back for want of a pass) the action first asks
    the cashier to see the customer's pass."""
    title = _(f"level.{level}", language)
    if display_name:
        title = _("service.title_named", language, level=title, name=display_name)
    who = _("service.who", language, tier=_(f"tier.{tier}", language),
            followers=number(followers, language), engagement=percent(engagement_rate, language),
            reach=number(engaged_reach, language))
    action = _(f"action.{level}", language)
    if verify_for:
        action = _("verify.ask", language, level=_(f"level.{verify_for}", language)) + " " + action
    body = f"{who} {action}"
    if niches:
        body += " " + _("service.into", language, niches=", ".join(interests(niches, language)))
    # The till card's one line when space is short; the rest is a tap away.
    # Asking for the pass comes first in it too: it is what to do now.
    short = _(f"action_short.{level}", language)
    if verify_for:
        short = _("verify.ask_short", language) + " " + short
    return {"title": title, "body": body, "who": who, "action": action, "short_action": short}


def verified_note(language: str = "en") -> str:
    """The note on a prompt closed because a pass raised the customer's level."""
    return _("verify.superseded", language)


def minutes(seconds: float, language: str = "en", *, about: bool = True) -> str:
    """A wait in words: "under a minute" or "about 6 minutes"."""
    if seconds < 60:
        return _("wait.under_a_minute", language)
    if round(seconds / 60) == 1:
        return _("wait.one_minute" if about else "wait.one_minute_plain", language)
    key = "wait.minutes" if about else "wait.minutes_plain"
    return _(key, language, minutes=number(round(seconds / 60), language))


def queue_pain_prompt(*, lane: str, length: int, normal: float, wait_s: float, influencers: int,
                      reach: int, language: str = "en", status: str = "long") -> dict:
    """A queue longer than normal: which lane, how long versus normal, the wait,
    and the reach waiting in it. The title says "long" only while the lane's
    status is long, so it agrees with the lane's tile."""
    # Written on nearly every reading of a long lane, from few distinct figures:
    # each wording is made once, keyed by the figures as the words show them.
    return dict(_queue_pain_words(lane, number(length, language), number(normal, language),
                                  minutes(wait_s, language), influencers, number(reach, language), language,
                                  status == "long"))


@functools.lru_cache(maxsize=1024)
def _queue_pain_words(lane: str, length: str, normal: str, wait: str, influencers: int, reach: str,
                      language: str, long: bool) -> dict:
    title = _("queue.title" if long else "queue.title_busy", language, lane=lane, length=length)
    parts = [_("queue.body", language, length=length, lane=lane, normal=normal, wait=wait)]
    if influencers == 1:
        parts.append(_("queue.one_influencer", language, reach=reach))
    elif influencers:
        parts.append(_("queue.influencers", language, count=number(influencers, language), reach=reach))
    parts.append(_("queue.action", language))
    return {"title": title, "body": " ".join(parts)}


def queue_calm_prompt(*, lane: str, length: int, normal: float, language: str = "en") -> dict:
    """A lane whose pain prompt is still open is back to normal: said in the
    past tense, with nothing to do (it closes by itself)."""
    return dict(_queue_calm_words(lane, number(length, language), number(normal, language), language))


@functools.lru_cache(maxsize=1024)
def _queue_calm_words(lane: str, length: str, normal: str, language: str) -> dict:
    return {"title": _("queue.title_calm", language, lane=lane, length=length),
            "body": _("queue.body_calm", language, length=length, normal=normal)}


def painpoint_prompt(*, kind: str, lane: str | None, note: str | None, by: str | None,
                     language: str = "en") -> dict:
    """A pain point reported by staff."""
    what = _(f"pain.{kind}", language)
    title = _("painpoint.title_lane", language, lane=lane, kind=what) if lane else \
        _("painpoint.title", language, kind=what)
    note = note.rstrip(".") if note else note
    key = "painpoint.reported" + ("_by" if by else "") + ("_note" if note else "")
    body = _(key, language, by=by, note=note) + " " + _("painpoint.action", language)
    return {"title": title, "body": body}


def recommendation(*, extra: int, waiting: int, wait_s: float, target_s: float, open_lanes: int,
                   arrivals_per_hour: float | None, service_s: float, language: str = "en",
                   lane: str = "") -> str:
    """Why the staffing recommendation says what it says, in one sentence.
    ``wait_s`` is the longest wait of any lane (``lane``), the same figure its
    tile shows, so the sentence never contradicts the tiles beside it."""
    if waiting == 0:
        return _("rec.nobody", language)
    n = functools.partial(number, language=language)
    now = _("rec.now_one" if open_lanes == 1 else "rec.now", language, waiting=n(waiting),
            open=n(open_lanes), wait=minutes(wait_s, language), lane=lane)
    target = minutes(target_s, language, about=False)
    if extra <= 0 and wait_s > target_s:
        return _("rec.rebalance", language, now=now, lane=lane)
    if extra <= 0:
        return _("rec.fine", language, now=now, target=target)
    basis = _("rec.basis_arrivals", language, arrivals=n(arrivals_per_hour), service=n(service_s)) \
        if arrivals_per_hour is not None else _("rec.basis_service", language, service=n(service_s))
    return _("rec.open_one" if extra == 1 else "rec.open", language, now=now, basis=basis,
             extra=n(extra), target=target)


def amplify_prompt(*, tier: str, followers: int, engagement_rate: float, engaged_reach: int,
                   niches, display_name: str | None, language: str = "en") -> dict:
    """After a good sale with a known influencer: invite them to share."""
    words = service_prompt(level="priority", tier=tier, followers=followers,
                           engagement_rate=engagement_rate, engaged_reach=engaged_reach,
                           niches=niches, display_name=None, language=language)
    title = _("amplify.title", language, name=display_name) if display_name else \
        _("amplify.title_anon", language, who=_(f"tier.a.{tier}", language))
    body = _("amplify.body", language, who=words["who"])
    if niches:
        body += " " + _("service.into", language, niches=", ".join(interests(niches, language)))
    return {"title": title, "body": body, "who": words["who"]}


# Complaints about these reach the floor as urgent: staff can fix them now.
FIXABLE = ("queue", "instructions", "staff", "stock")


def heard_prompt(*, about: str, tone: str, excerpt: str, language: str = "en") -> dict:
    """Title and body of a ``heard`` prompt: what a customer posted, never who."""
    key = "fix" if tone == "complaint" and about in FIXABLE else tone
    if key not in ("fix", "complaint", "praise", "question", "neutral"):
        key = "neutral"
    words = _("heard.about." + (about if about in ("queue", "instructions", "staff", "stock", "product")
                                else "other"), language)
    return {"title": _(f"heard.title.{key}", language, about=words),
            "body": _(f"heard.body.{key}", language, excerpt=excerpt)}
