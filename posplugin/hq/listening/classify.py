"""What a post is about and in what tone, in English and Norwegian, with the
words that decided it.

Transparent rules over the lexicons of :mod:`.lexicon` (a chain extends them
with ``listen_lexicon``), found as a reader would find them
(:mod:`.matching`: any inflection, compound heads, emoji, drawn-out
letters), so staff and auditors can see why: every verdict carries the
words it rests on.

About: the subject with the most words; where two claim one word, the more
specific entry keeps it; a product named as missing ("no bananas") is stock.
Tone, in this order: news that something bad is over is praise ("no queue
for once"); praise beside a sarcasm marker is a complaint ("great, 40
minutes again 🙄"); a post that opens by asking, without complaining, is a
question ("when will it be back in stock?"); then the complaint words
(with rhetorical questions and waits of 10 minutes or more) against the
praise words, a negation turning the nearest word of tone after it ("not
helpful", "ikke treg"), a word inside a longer phrase of the other tone
counting for the phrase only ("within minutes" is no wait). When in doubt
between a complaint and anything else, it says complaint: a missed
complaint costs a customer, a false one a glance.

A ``classify_post`` plugin may replace the verdict (a chain's own model); an
answer that is not a verdict, or a plugin that raises, leaves the built-in one.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .lexicon import ABOUTS, LEXICON, TONES
from .matching import Entries, Morphology, Text, negated, read

log = logging.getLogger("posplugin.hq.listening")
# About: on a tie, the first of these wins (what the floor can act on first).
ABOUT_ORDER = ("queue", "staff", "stock", "instructions", "product", "other")
# "25 mins", "40 minutter", "an hour": how long something took is a complaint's fact.
DURATION = re.compile(r" (\d+|half an?|an|en halv|ei|en) (?:min|mins|minute|minutes|minutter|hour|hours|time|timer|"
                      r"halvtime|kvarter)(?= )")


@dataclass(frozen=True)
class Verdict:
    about: str
    tone: str
    language: str
    why: tuple[str, ...] = ()
    by: str = "rules"  # or the name of the plugin that decided

    def to_json(self) -> dict:
        return {"about": self.about, "tone": self.tone, "language": self.language, "why": list(self.why),
                "by": self.by}


class _Compiled:
    """One language's lexicon, compiled once."""

    def __init__(self, lexicon: dict):
        self.morphology = Morphology.of(lexicon)
        entries = lambda words: Entries(words, self.morphology)  # noqa: E731
        self.markers = entries(lexicon.get("markers", []))
        self.about = {a: entries(lexicon.get("about", {}).get(a, [])) for a in ABOUTS}
        self.tone = {t: entries(lexicon.get("tone", {}).get(t, [])) for t in TONES}
        self.negations = set(lexicon.get("negations", []))
        self.determiners = frozenset(lexicon.get("determiners", []))
        self.sarcasm = entries(lexicon.get("sarcasm", []))
        self.relief = entries(lexicon.get("relief", []))
        self.rhetorical = entries(lexicon.get("rhetorical", []))
        self.absence = entries(lexicon.get("absence", []))

    def read(self, text: str) -> Text:
        return read(text, self.morphology)


def merged(base: dict, extra: dict) -> dict:
    """``base`` lexicons with ``extra``'s words added (lists extended, new languages and classes taken)."""
    out = json.loads(json.dumps(base))
    for language, parts in extra.items():
        target = out.setdefault(language, {})
        for key, value in parts.items():
            if isinstance(value, dict):
                group = target.setdefault(key, {})
                for name, words in value.items():
                    group[name] = list(dict.fromkeys(group.get(name, []) + list(words)))
            elif isinstance(value, list):
                target[key] = list(dict.fromkeys(target.get(key, []) + value))
            else:   # a setting of the language's morphology: compounds, undouble, min_stem
                target[key] = value
    return out


def load_lexicon(path: str) -> dict:
    """The lexicons with the ``listen_lexicon`` file's words merged in; raises ValueError for a bad file."""
    if not path:
        return LEXICON
    try:
        extra = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"listen_lexicon {path}: {exc}") from None
    if not isinstance(extra, dict) or not all(isinstance(v, dict) for v in extra.values()):
        raise ValueError(f"listen_lexicon {path}: expected {{language: {{markers, about, tone, ...}}}}")
    return merged(LEXICON, extra)


class Classifier:
    """Classifies posts with the lexicons of each language it knows; a
    ``classify_post`` plugin in ``plugins`` may overrule it."""

    def __init__(self, lexicon: dict | None = None, *, plugins=None, settings=None):
        self.languages = {name: _Compiled(parts) for name, parts in (lexicon or LEXICON).items()}
        self.plugins = plugins
        self.settings = settings

    @classmethod
    def from_settings(cls, settings, plugins=None) -> "Classifier":
        return cls(load_lexicon(getattr(settings, "listen_lexicon", "")), plugins=plugins, settings=settings)

    def language(self, text: str, hint: str | None = None) -> str:
        """``hint`` where it names a language this classifier knows (a post's
        own ``langs``), else the language whose common words the text has most
        (æ, ø and å count for Norwegian); English when nothing says."""
        hint = (hint or "").lower().split("-")[0]
        if hint == "no" or hint == "nn":
            hint = "nb"
        if hint in self.languages:
            return hint
        scores = {name: len(c.markers.find(c.read(text))) for name, c in self.languages.items()}
        if "nb" in scores:
            scores["nb"] += 2 * len(re.findall("[æøå]", (text or "").casefold()))
        best = max(scores.items(), key=lambda item: (item[1], item[0] == "en"))
        return best[0] if best[1] > 0 else ("en" if "en" in self.languages else next(iter(self.languages)))

    def classify(self, text: str, language: str | None = None) -> Verdict:
        verdict = self.rules(text, language)
        if self.plugins is not None and self.plugins.has("classify_post"):
            verdict = self._plugin(text, verdict)
        return verdict

    def _plugin(self, text: str, verdict: Verdict) -> Verdict:
        answer = self.plugins.first("classify_post", text=text, language=verdict.language,
                                    verdict=verdict.to_json(), settings=self.settings)
        if not isinstance(answer, dict) or answer.get("about") not in ABOUTS or answer.get("tone") not in TONES:
            if answer is not None:
                log.warning("a classify_post plugin answered something that is not a verdict; kept the rules'")
            return verdict
        why = answer.get("why") or ()
        why = tuple(str(w)[:100] for w in (why if isinstance(why, (list, tuple)) else [why]))[:20]
        return Verdict(answer["about"], answer["tone"], verdict.language, why, by="plugin")

    def rules(self, text: str, language: str | None = None) -> Verdict:
        """The built-in verdict on ``text``."""
        language = self.language(text, language)
        lexicon = self.languages[language]
        prepared = lexicon.read(text)
        about, about_why = _about(prepared, lexicon)
        tone, tone_why = _tone(prepared, lexicon)
        return Verdict(about, tone, language, tuple(about_why + tone_why))


def _about(text: Text, lexicon: _Compiled) -> tuple[str, list[str]]:
    """The subject with the most words in the text; where two subjects claim
    the same word, the more specific entry keeps it ("kassadamen" is a
    cashier, staff, though it starts like "kassa*", the till)."""
    scores = {name: lexicon.about[name].find(text) for name in ABOUT_ORDER}
    best_at: dict[int, int] = {}
    for matches in scores.values():
        for m in matches:
            if m.start >= 0:
                best_at[m.start] = max(best_at.get(m.start, 0), _specificity(m))
    scores = {name: [m for m in matches if m.start < 0 or _specificity(m) >= best_at[m.start]]
              for name, matches in scores.items()}
    # A product named as missing ("no bananas", "tomt for melk") is about stock.
    gaps = {m.end for m in lexicon.absence.find(text, every=True)}
    missing = [m for m in scores["product"] if m.start in gaps]
    scores["product"] = [m for m in scores["product"] if m not in missing]
    scores["stock"] = scores["stock"] + missing
    best = max(ABOUT_ORDER, key=lambda name: (len(scores[name]), -ABOUT_ORDER.index(name)))
    if not scores[best]:
        return "other", []
    return best, [f"{best}: {', '.join(repr(m.words) for m in scores[best][:4])}"]


def _specificity(match) -> int:
    """How much of an entry is its own letters: a phrase or a long word beats a short prefix."""
    return len(match.entry.replace("*", "").replace("=", ""))


@dataclass
class _Weighed:
    """What a text says for each tone, negations taken into account."""

    bad: list[str]
    good: list[str]
    relief: list
    question: list
    sarcasm: list
    asks: bool


def _weigh(text: Text, lexicon: _Compiled) -> _Weighed:
    complaint = lexicon.tone["complaint"].find(text)
    praise = lexicon.tone["praise"].find(text)
    # A word inside a longer phrase of the other tone counts for the phrase
    # only: "minutes" in "found it within minutes" is no wait.
    complaint, praise = ([m for m in complaint if not _inside_longer(m, praise)],
                         [m for m in praise if not _inside_longer(m, complaint)])
    relief = lexicon.relief.find(text)
    toned = complaint + praise + relief

    def turned(match) -> bool:
        others = frozenset(i for m in toned if m.end <= match.start or m.start >= match.end
                           for i in range(m.start, m.end))
        return negated(text, match, lexicon.negations, lexicon.morphology, others, lexicon.determiners)

    said_bad = [m for m in complaint if not turned(m)]
    said_good = [m for m in praise if not turned(m)]
    # A turned word counts once: "not happy" is one complaint, whether the lexicon lists it or "happy".
    bad = [m.words for m in said_bad] + [f"not {m.words}" for m in praise if turned(m) and not _within(m, said_bad)]
    bad += [m.words for m in lexicon.rhetorical.find(text) if m.words not in bad]   # "how hard is it to ..."
    good = [m.words for m in said_good] + [f"not {m.words}" for m in complaint
                                           if turned(m) and not _within(m, said_good)]
    # A long wait is a complaint's fact; "in and out in 5 minutes" is not.
    bad += [m.group(0).strip() for m in DURATION.finditer(text.words)
            if not (m.group(1).isdigit() and int(m.group(1)) < 10)]
    return _Weighed(bad, good, [m for m in relief if not turned(m)],   # "not restocked" is no news
                    lexicon.tone["question"].find(text), lexicon.sarcasm.find(text), "?" in text.raw)


def _tone(text: Text, lexicon: _Compiled) -> tuple[str, list[str]]:
    """The tone and why, in the order the module's docstring gives."""
    w = _weigh(text, lexicon)
    if w.relief and not w.sarcasm and not w.asks and len(w.good) >= len(w.bad) - 1:
        return "praise", [f"praise: {', '.join(repr(m.words) for m in w.relief[:2])} (something bad is over)"]
    if w.good and w.sarcasm:
        return "complaint", [f"complaint: {w.good[0]!r} beside {w.sarcasm[0].words!r} (sarcasm)"]
    asked = _asked_first(text, w.question)
    if asked and not w.bad and not w.sarcasm:
        return "question", [f"question: {asked.words!r} (asked first)"]
    question = w.question if w.asks else []   # a question is asked with a question mark
    if question and not w.bad and not w.good:
        return "question", [f"question: {question[0].words!r}"]
    if w.bad and len(w.bad) >= len(w.good):
        return "complaint", [f"complaint: {', '.join(repr(x) for x in w.bad[:4])}"]
    if w.good:
        return "praise", [f"praise: {', '.join(repr(x) for x in w.good[:4])}"]
    if question:
        return "question", [f"question: {question[0].words!r}"]
    return "neutral", []


def _asked_first(text: Text, question) -> object | None:
    """The question phrase that opens the post's first sentence, when that sentence ends in a question mark."""
    words = [i for i in range(len(text.tokens)) if text.is_word(i)]
    end = next((i for i, t in enumerate(text.tokens) if not text.is_word(i) and set(t) & set(".!?")), None)
    if not words or end is None or "?" not in text.tokens[end]:
        return None
    return next((m for m in question if 0 <= m.start <= words[0] + 1 and m.start < end), None)


def _inside_longer(match, matches) -> bool:
    """Whether ``match`` (a word, not a symbol) lies within a longer one of ``matches``."""
    size = match.end - match.start
    return match.start >= 0 and _within(match, [m for m in matches if m.end - m.start > size])


def _within(match, matches) -> bool:
    return any(m.start <= match.start and match.end <= m.end for m in matches if m.start >= 0)
