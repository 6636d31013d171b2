"""What a post is about and in what tone, in English and Norwegian, with the
words that decided it.

Transparent rules over the lexicons of :mod:`.lexicon` (a chain extends them
with ``listen_lexicon``), so staff and auditors can see why: every verdict
carries the words it rests on. Negation turns a tone around ("not helpful",
"ikke treg"); praise beside the facts of a bad visit is sarcasm ("great, 40
minutes again"); news that something bad is over is praise ("no queue for
once"). When in doubt between a complaint and anything else, it says
complaint: a missed complaint costs a customer, a false one a glance.

A ``classify_post`` plugin may replace the verdict (a chain's own model); an
answer that is not a verdict, or a plugin that raises, leaves the built-in one.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .lexicon import ABOUTS, LEXICON, TONES

log = logging.getLogger("posplugin.hq.listening")
# About: on a tie, the first of these wins (what the floor can act on first).
ABOUT_ORDER = ("queue", "staff", "stock", "instructions", "product")
NEGATION_REACH = 3  # words before a match that can negate it
_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[\w.]+")
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


@dataclass
class _Text:
    raw: str        # case-folded, for emoji and punctuation
    words: str      # " word word word " for word entries
    tokens: list[str] = field(default_factory=list)


def _prepare(text: str) -> _Text:
    folded = _HANDLE.sub(" ", _URL.sub(" ", (text or "").casefold()))
    tokens = _WORD.findall(folded.replace("#", " "))
    return _Text(folded, " " + " ".join(tokens) + " ", tokens)


def _pattern(entry: str) -> re.Pattern | str:
    """An entry as a regex over the spaced words, or (no word character) a substring of the raw text."""
    if not re.search(r"\w", entry):
        return entry
    parts = []
    for word in entry.casefold().split():
        body = re.escape(word.strip("*")) if word.strip("*") else ""
        if word == "*":
            parts.append(r"\S+")
        elif word == "#":
            parts.append(r"\d+")
        else:
            parts.append((r"\S*" if word.startswith("*") else "") + body + (r"\S*" if word.endswith("*") else ""))
    return re.compile(" " + " ".join(parts) + "(?= )")


class _Compiled:
    """One language's lexicon, compiled once."""

    def __init__(self, lexicon: dict):
        self.markers = [_pattern(e) for e in lexicon.get("markers", [])]
        self.about = {a: [(e, _pattern(e)) for e in lexicon.get("about", {}).get(a, [])] for a in ABOUTS}
        self.tone = {t: [(e, _pattern(e)) for e in lexicon.get("tone", {}).get(t, [])] for t in TONES}
        self.negations = set(lexicon.get("negations", []))
        self.sarcasm = [(e, _pattern(e)) for e in lexicon.get("sarcasm", [])]
        self.relief = [(e, _pattern(e)) for e in lexicon.get("relief", [])]


def _found(text: _Text, entries) -> list[tuple[str, int]]:
    """The entries found in ``text``, each with where its match starts in the
    spaced words (-1: in the raw text). Words one longer match already covers
    count once ("self checkout" is not also "checkout")."""
    raw, spans = [], []
    for entry, pattern in entries:
        if isinstance(pattern, str):
            if pattern in text.raw:
                raw.append((entry, -1))
            continue
        match = pattern.search(text.words)
        if match:
            spans.append((match.start(), match.end(), match.group(0).strip()))
    out, taken = [], []
    for start, end, words in sorted(spans, key=lambda s: s[0] - s[1]):
        if not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
            out.append((words, start))
    return sorted(out, key=lambda item: item[1]) + raw


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
            else:
                target[key] = list(dict.fromkeys(target.get(key, []) + list(value)))
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
        prepared = _prepare(text)
        scores = {name: sum(1 for p in c.markers if (p in prepared.raw if isinstance(p, str)
                                                      else p.search(prepared.words)))
                  for name, c in self.languages.items()}
        if "nb" in scores:
            scores["nb"] += 2 * len(re.findall("[æøå]", prepared.raw))
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
        prepared = _prepare(text)
        about, about_why = _about(prepared, lexicon)
        tone, tone_why = _tone(prepared, lexicon)
        return Verdict(about, tone, language, tuple(about_why + tone_why))


def _about(text: _Text, lexicon: _Compiled) -> tuple[str, list[str]]:
    scores = {name: _found(text, lexicon.about[name]) for name in ABOUT_ORDER}
    best = max(ABOUT_ORDER, key=lambda name: (len(scores[name]), -ABOUT_ORDER.index(name)))
    if not scores[best]:
        return "other", []
    return best, [f"{best}: {', '.join(repr(w) for w, _ in scores[best][:4])}"]


def _negated(text: _Text, start: int, negations: set[str]) -> bool:
    if start < 0:
        return False
    before = text.words[:start].split()[-NEGATION_REACH:]
    return any(word in negations for word in before)


def _tone(text: _Text, lexicon: _Compiled) -> tuple[str, list[str]]:
    """The tone and why (see the module's docstring for the rules' order)."""
    complaint = _found(text, lexicon.tone["complaint"])
    praise = _found(text, lexicon.tone["praise"])
    relief = _found(text, lexicon.relief)
    bad = [w for w, at in complaint if not _negated(text, at, lexicon.negations)]
    good = [w for w, at in praise if not _negated(text, at, lexicon.negations)]
    bad += [f"not {w}" for w, at in praise if _negated(text, at, lexicon.negations)]
    good += [f"not {w}" for w, at in complaint if _negated(text, at, lexicon.negations)]
    # A long wait is a complaint's fact; "in and out in 5 minutes" is not.
    bad += [m.group(0).strip() for m in DURATION.finditer(text.words)
            if not (m.group(1).isdigit() and int(m.group(1)) < 10)]
    question = _found(text, lexicon.tone["question"])
    sarcasm = _found(text, lexicon.sarcasm)
    asks = "?" in text.raw
    if relief and not sarcasm and not asks and len(good) >= len(bad) - 1:
        return "praise", [f"praise: {', '.join(repr(w) for w, _ in relief[:2])} (something bad is over)"]
    if good and sarcasm:
        return "complaint", [f"complaint: {good[0]!r} beside {sarcasm[0][0]!r} (sarcasm)"]
    if question and not bad and not good:
        return "question", [f"question: {question[0][0]!r}"]
    if bad and len(bad) >= len(good):
        return "complaint", [f"complaint: {', '.join(repr(w) for w in bad[:4])}"]
    if good:
        return "praise", [f"praise: {', '.join(repr(w) for w in good[:4])}"]
    if question:
        return "question", [f"question: {question[0][0]!r}"]
    return "neutral", []
