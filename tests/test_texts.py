"""Message catalogues: English and Norwegian Bokmål complete, numbers per locale."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin import texts

STATIC = Path(__file__).resolve().parent.parent / "static" / "locales"


def placeholders(text):
    return set(re.findall(r"{(\w+)}", text))


@pytest.mark.parametrize("folder", [Path(texts.__file__).parent / "locales", STATIC])
def test_catalogues_are_complete_with_the_same_placeholders(folder):
    en = json.loads((folder / "en.json").read_text(encoding="utf-8"))
    nb = json.loads((folder / "nb.json").read_text(encoding="utf-8"))
    assert set(en) == set(nb)
    for key in en:
        assert placeholders(en[key]) == placeholders(nb[key]), key
        assert nb[key].strip(), key


def test_every_page_label_has_a_message():
    keys = set(json.loads((STATIC / "en.json").read_text(encoding="utf-8")))
    used = set()
    for page in STATIC.parent.glob("*.html"):
        used |= set(re.findall(r'data-t="([^"]+)"', page.read_text(encoding="utf-8")))
    for script in STATIC.parent.glob("*.js"):
        used |= set(re.findall(r'P\.t\("([a-z_.]+)"', script.read_text(encoding="utf-8")))
    prefixes = {u for u in used if u.endswith(".")}  # P.t("level." + prompt.level)
    assert all(any(k.startswith(p) for k in keys) for p in prefixes)
    assert used - prefixes and (used - prefixes) <= keys, (used - prefixes) - keys


@pytest.mark.parametrize("language,followers,engagement,title", [
    ("en", "4,200 followers", "6.2% engagement", "Murdoch-level service: Sam"),
    ("nb", "4\u00a0200 følgere", "6,2\u00a0% engasjement", "Murdoch-service: Sam"),
])
def test_service_prompt_in_each_language(language, followers, engagement, title):
    words = texts.service_prompt(level="murdoch", tier="nano", followers=4200, engagement_rate=0.062,
                                 engaged_reach=260, niches=["running"], display_name="Sam",
                                 language=language)
    assert words["title"] == title
    assert followers in words["who"] and engagement in words["who"]


def test_norwegian_queue_and_recommendation():
    pain = texts.queue_pain_prompt(lane="2", length=7, normal=3, wait_s=360, influencers=2,
                                   reach=9800, language="nb")
    assert pain["body"].startswith("7 venter ved kasse 2 (normalt nå: 3), omtrent 6 minutter.")
    assert "9\u00a0800 engasjerte følgere" in pain["body"]
    rec = texts.recommendation(extra=2, waiting=12, wait_s=600, target_s=180, open_lanes=2,
                               arrivals_per_hour=40, service_s=90, language="nb")
    assert "åpne 2 kasser til" in rec and "40 ankomster i timen" in rec


@given(length=st.integers(0, 500), normal=st.floats(0, 100), wait_s=st.floats(0, 10_000),
       language=st.sampled_from(texts.LANGUAGES))
def test_a_queue_prompt_says_its_own_figures(length, normal, wait_s, language):
    # The words are made once per wording and given again: each figure must still show as it is.
    pain = texts.queue_pain_prompt(lane="4", length=length, normal=normal, wait_s=wait_s, influencers=0,
                                   reach=0, language=language)
    body = pain["body"]
    assert texts.number(length, language) in pain["title"]
    assert texts.number(normal, language) in body and texts.minutes(wait_s, language) in body
    calm = texts.queue_calm_prompt(lane="4", length=length, normal=normal, language=language)
    assert texts.number(normal, language) in calm["body"]
    calm["body"] = "changed by its caller"
    assert texts.queue_calm_prompt(lane="4", length=length, normal=normal, language=language)["body"] != calm["body"]


@pytest.mark.parametrize("language,tier,title", [
    ("en", "everyday", "After the sale: an everyday customer just bought"),
    ("en", "micro", "After the sale: a micro-influencer just bought"),
    ("nb", "everyday", "Etter kjøpet: en hverdagskunde handlet nettopp"),
])
def test_after_sale_title_has_the_right_article(language, tier, title):
    words = texts.amplify_prompt(tier=tier, followers=900, engagement_rate=0.08, engaged_reach=72,
                                 niches=[], display_name=None, language=language)
    assert words["title"] == title


# Every prompt the till card can show: each level a service prompt has, and
# each level held back for want of a pass (verify_level), which asks for it.
CARD_PROMPTS = [("priority", None), ("murdoch", None), ("standard", "priority"), ("priority", "murdoch")]


@pytest.mark.parametrize("language", ["en", "nb"])
@pytest.mark.parametrize("level,verify_for", CARD_PROMPTS)
def test_every_card_prompt_has_a_one_line_action(language, level, verify_for):
    words = texts.service_prompt(level=level, tier="nano", followers=4200, engagement_rate=0.062,
                                 engaged_reach=260, niches=[], display_name="Sam", language=language,
                                 verify_for=verify_for)
    short = words["short_action"]
    assert short and "\n" not in short and short != words["action"]
    assert len(short) <= (110 if verify_for else 50), short
    if verify_for:  # seeing the pass comes first: it is what to do now
        assert short.startswith(texts.message("verify.ask_short", language))
    # The page's own line for the level, for a prompt that came without one.
    static = json.loads((STATIC / f"{language}.json").read_text(encoding="utf-8"))
    assert static[f"till.action.{level}"].strip()


@pytest.mark.parametrize("language", ["en", "nb"])
def test_dates_have_one_format_per_language_on_pages_and_in_sentences(language):
    python = texts.catalogue(language)
    static = json.loads((STATIC / f"{language}.json").read_text(encoding="utf-8"))
    for key in ("date.format", "date.months", "date.day_month", "date.date_time"):
        assert python[key] == static[key], key
    assert len(python["date.months"].split(" ")) == 12
    assert texts.date("2026-12-02T17:33:39Z", language) == {"en": "2 Dec 2026", "nb": "2. des. 2026"}[language]
    assert texts.date(1_800_000_000, language) == {"en": "15 Jan 2027", "nb": "15. jan. 2027"}[language]
    # The day where head office is: 23:30 UTC is already the next day in Oslo.
    import zoneinfo
    assert texts.date("2026-12-02T23:30:00Z", language, zoneinfo.ZoneInfo("Europe/Oslo")).startswith("3")


@pytest.mark.parametrize("language,interests", [("en", ["running", "coffee", "Oslo marathon"]),
                                                ("nb", ["løping", "kaffe", "Oslo marathon"])])
def test_common_interests_read_in_the_language_and_a_chains_own_as_written(language, interests):
    assert texts.interests(["running", "Coffee", "Oslo marathon"], language) == interests


@pytest.mark.parametrize("language,seconds,words", [
    ("en", 30, "under a minute"), ("en", 70, "about a minute"), ("en", 400, "about 7 minutes"),
    ("nb", 70, "omtrent ett minutt"), ("nb", 400, "omtrent 7 minutter"),
])
def test_waits_in_words(language, seconds, words):
    assert texts.minutes(seconds, language) == words
