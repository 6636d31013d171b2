"""Finding a lexicon's entries in a post, the way a reader would: in any
inflection, inside compounds, and knowing what a negation reaches.

A text is read as word tokens (case-folded, handles and links left out) and
punctuation tokens, which end a clause. An entry is

* a word (``queue``): matched in any inflection by its stem: both sides lose
  one of the language's inflectional ``suffixes`` (``queued``, ``queues``
  and ``queueing`` are ``queue``; ``køen``, ``køa`` and ``køene`` are
  ``kø``). Derivations are other words (``helpful`` is not ``help``). Where
  the language writes ``compounds`` as one word (Norwegian), a word of four
  letters or more also matches as a compound's head, which carries its
  meaning (``brødhylla`` is a ``hylle``; ``kjempefrekk`` is ``frekk``), and
  with an ending of up to three letters the suffixes do not know (``tregt``);
* a pattern (``queu*``, ``*kø*``): a prefix, suffix or part of one word token;
* ``=word``: that form only (``=packed`` is crowded; ``packs`` are not);
* ``#``: a number; ``*``: any one word;
* a phrase of those (``sold out``, ``till #``), matched on consecutive words
  of one clause;
* anything without a letter or digit (an emoji, ``?``, ``/s``): found
  anywhere in the text, emoji without their variation selectors and skin tones.

Letters drawn out three times or more count once ("sooo slooow" is "so slow").

A match is negated when one of the language's ``negations`` stands at most
``NEGATION_REACH`` words before it in the same clause ("not very helpful",
"ikke særlig hyggelig"), and a clause ends at punctuation or a contrast word
("but", "men"): "not cheap, but great" keeps its praise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NEGATION_REACH = 3
_TOKEN = re.compile(r"[^\W_][\w'’-]*|[.,!?;:]+|\s[-–—]\s", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[\w.]+")
_DRAWN_OUT = re.compile(r"([^\W\d_])\1{2,}")
# Variation selectors, skin tones and the zero-width joiner: "👍🏽" is "👍".
_EMOJI_NOISE = re.compile("[\ufe0e\ufe0f\u200d\U0001F3FB-\U0001F3FF]")
COMPOUND_MIN = 4  # letters a word needs to be found inside a compound
ENDING_MAX = 3    # letters after a word that are an ending, not another word
FIRST_PART_MIN = 3  # letters before a compound's head ("særlig" is not "s" + "ærlig")


@dataclass(frozen=True)
class Morphology:
    """How a language inflects: the suffixes a stem loses, the shortest stem
    left, whether it writes compounds as one word, and the words that end a clause."""

    suffixes: tuple[tuple[str, str], ...] = ()   # (suffix, what replaces it): "ies>y" is ("ies", "y")
    min_stem: int = 3
    compounds: bool = False
    undouble: bool = False    # "stopped" -> "stopp" -> "stop"
    contrasts: tuple[str, ...] = ()

    @classmethod
    def of(cls, lexicon: dict) -> "Morphology":
        suffixes = [tuple((s + ">").split(">")[:2]) for s in lexicon.get("suffixes", [])]
        return cls(tuple(sorted(suffixes, key=lambda s: len(s[0]), reverse=True)), int(lexicon.get("min_stem", 3)),
                   bool(lexicon.get("compounds", False)), bool(lexicon.get("undouble", False)),
                   tuple(lexicon.get("contrasts", [])))

    def stem(self, word: str) -> str:
        """``word`` without its longest inflectional suffix (never shorter than ``min_stem``)."""
        for suffix, instead in self.suffixes:
            if word.endswith(suffix) and len(word) - len(suffix) >= self.min_stem:
                stem = word[: -len(suffix)]
                if self.undouble and not instead and len(stem) > self.min_stem and stem[-1] == stem[-2] \
                        and stem[-1] in "bdfgmnprt":
                    stem = stem[:-1]
                return stem + instead
        return word


@dataclass
class Text:
    """A post as the matcher reads it."""

    raw: str                                       # case-folded, emoji plain: for entries without letters
    tokens: list[str] = field(default_factory=list)   # words and clause ends, in order
    stems: list[str] = field(default_factory=list)
    words: str = " "                               # " word word " (for patterns over the whole text)

    def is_word(self, i: int) -> bool:
        return self.tokens[i][:1].isalnum()


def read(text: str, morphology: Morphology) -> Text:
    folded = _EMOJI_NOISE.sub("", _HANDLE.sub(" ", _URL.sub(" ", (text or "").casefold()))).replace("’", "'")
    # Drawn-out letters are the word itself: "sooo slooow" is "so slow".
    tokens = [_DRAWN_OUT.sub(r"\1", t.strip()) or "-" for t in _TOKEN.findall(folded.replace("#", " "))]
    words = [t for t in tokens if t[:1].isalnum()]
    return Text(folded, tokens, [morphology.stem(t) if t[:1].isalnum() else t for t in tokens],
                " " + " ".join(words) + " ")


@dataclass(frozen=True)
class Match:
    entry: str     # the entry as the lexicon writes it
    words: str     # the words of the text it matched (the entry for a symbol)
    start: int     # token index of its first word (-1: a symbol, found anywhere)
    end: int


class Entries:
    """One list of lexicon entries, compiled once for a language."""

    def __init__(self, entries, morphology: Morphology):
        self.morphology = morphology
        self.symbols: list[str] = []
        self.by_stem: dict[str, list[tuple[str, list]]] = {}
        self.heads: dict[str, list[tuple[str, list]]] = {}   # compound parts: single words of 4+ letters
        self.others: list[tuple[str, list]] = []
        for entry in entries:
            if not re.search(r"\w", entry):
                self.symbols.append(_EMOJI_NOISE.sub("", entry.casefold()))
                continue
            parts = [self._part(word) for word in entry.casefold().replace("#", " # ").split()]
            first = parts[0]
            if first[0] == "exact":
                self.by_stem.setdefault(morphology.stem(first[1]), []).append((entry, parts))
            elif first[0] == "word":
                self.by_stem.setdefault(first[1], []).append((entry, parts))
                if morphology.compounds and len(parts) == 1 and len(first[1]) >= COMPOUND_MIN:
                    self.heads.setdefault(first[1], []).append((entry, parts))
            else:
                self.others.append((entry, parts))

    def _part(self, word: str) -> tuple:
        if word == "*":
            return ("any",)
        if word == "#":
            return ("number",)
        if "*" in word:
            body = re.escape(word.strip("*"))
            return ("pattern", re.compile((".*" if word.startswith("*") else "") + body
                                          + (".*" if word.endswith("*") else "") + "$"))
        if word.startswith("="):   # this form only: "=packed" is crowded, not "packs"
            return ("exact", word[1:], word[1:])
        return ("word", self.morphology.stem(word), word)

    @staticmethod
    def _fits(part: tuple, text: Text, i: int) -> bool:
        if i >= len(text.tokens) or not text.is_word(i):
            return False
        kind = part[0]
        if kind == "any":
            return True
        if kind == "number":
            return text.tokens[i].isdigit()
        if kind == "pattern":
            return part[1].match(text.tokens[i]) is not None
        if kind == "exact":
            return text.tokens[i] == part[1]
        return text.stems[i] == part[1] or text.tokens[i] == part[2]

    def _phrase(self, parts: list, text: Text, i: int) -> int | None:
        """The token index after ``parts`` matched from ``i``, or None."""
        for k, part in enumerate(parts):
            if not self._fits(part, text, i + k):
                return None
        return i + len(parts)

    def _candidates(self, text: Text, i: int):
        yield from self.by_stem.get(text.stems[i], ())
        yield from self.others
        if self.morphology.compounds:
            yield from self._compound_parts(text.tokens[i], text.stems[i])

    def _compound_parts(self, token: str, stem: str):
        """Entries found in a word as a compound's head, which carries its
        meaning ("brødhylla" is a shelf: it ends in "hyll(e)"; "kjempefrekk"
        is rude), or with an ending the suffixes do not know ("tregt", "hjelpsomme")."""
        found = []
        for j in range(FIRST_PART_MIN, len(stem) - COMPOUND_MIN + 1):
            found += self.heads.get(stem[j:], [])
            found += self.heads.get(self.morphology.stem(stem[j:]), [])
        for j in range(max(COMPOUND_MIN, len(token) - ENDING_MAX), len(token)):
            found += self.heads.get(token[:j], [])
        return found

    def find(self, text: Text, every: bool = False) -> list[Match]:
        """Every entry found in ``text``, each once (``every``: wherever it
        stands); words a longer match already covers count once ("self
        checkout" is not also "checkout")."""
        spans: dict[object, Match] = {}
        for i in range(len(text.tokens)):
            if not text.is_word(i):
                continue
            for entry, parts in self._candidates(text, i):
                key = (entry, i) if every else entry
                if key in spans:
                    continue
                if len(parts) == 1 and parts[0][0] == "word" and self.morphology.compounds:
                    end = i + 1 if (self._fits(parts[0], text, i) or _inside(parts[0], text, i)) else None
                else:
                    end = self._phrase(parts, text, i)
                if end is not None:
                    spans[key] = Match(entry, " ".join(text.tokens[i:end]), i, end)
        kept: list[Match] = []
        for match in sorted(spans.values(), key=lambda m: (m.start - m.end, m.start)):
            if not any(match.start < k.end and k.start < match.end for k in kept):
                kept.append(match)
        symbols = [Match(s, s, -1, -1) for s in self.symbols if s in text.raw]
        return sorted(kept, key=lambda m: m.start) + symbols


def _inside(part: tuple, text: Text, i: int) -> bool:
    stem, token, head = text.stems[i], text.tokens[i], part[1]
    if len(head) < COMPOUND_MIN:
        return False
    return (stem.endswith(head) and len(stem) - len(head) >= FIRST_PART_MIN) or \
        (token.startswith(head) and len(token) - len(head) <= ENDING_MAX)


def negated(text: Text, match: Match, negations: set[str], morphology: Morphology,
            others: frozenset[int] = frozenset(), determiners: frozenset[str] = frozenset()) -> bool:
    """Whether a negation in the same clause, at most NEGATION_REACH words
    before ``match``, turns it around. A negation turns the nearest word of
    tone after it only: ``others`` are the token indices of the other words
    of tone ("not sold out, for once": "not" is about "sold out"); a
    determiner ("no", "ingen") turns the word right after it only ("no milk
    again" is still "again")."""
    if match.start < 0:
        return False
    reach = 0
    for i in range(match.start - 1, -1, -1):
        token = text.tokens[i]
        if not text.is_word(i) or token in morphology.contrasts or i in others:
            return False
        if token in determiners:
            return i == match.start - 1
        if token in negations:
            return True
        reach += 1
        if reach >= NEGATION_REACH:
            return False
    return False
