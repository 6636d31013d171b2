"""The classifier against a labelled set of posts: accuracy, and precision
and recall per class beside the majority-class baseline (what a classifier
that always answers the commonest label would score).

A set is a tab-separated file: ``language, about, tone, text`` per line,
``#`` lines are comments (benchmarks/data/listening_posts_*.tsv).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .classify import Classifier
from .lexicon import ABOUTS, TONES


@dataclass(frozen=True)
class Labelled:
    line: int
    language: str
    about: str
    tone: str
    text: str


def read_set(*paths: Path) -> list[Labelled]:
    """The labelled posts of ``paths``; raises ValueError naming a bad line."""
    out = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 4 or parts[1] not in ABOUTS or parts[2] not in TONES:
                raise ValueError(f"{path}:{number}: expected language, about, tone, text separated by tabs")
            out.append(Labelled(number, *parts))
    return out


def scores(truth: list[str], guess: list[str], labels: tuple[str, ...]) -> dict:
    """Accuracy, and precision, recall and support per label."""
    per = {}
    for label in labels:
        tp = sum(1 for t, g in zip(truth, guess) if t == g == label)
        said = sum(1 for g in guess if g == label)
        real = sum(1 for t in truth if t == label)
        per[label] = {"precision": tp / said if said else None, "recall": tp / real if real else None,
                      "support": real}
    accuracy = sum(1 for t, g in zip(truth, guess) if t == g) / len(truth) if truth else 0.0
    return {"accuracy": accuracy, "classes": per}


def evaluate(posts: list[Labelled], classifier: Classifier | None = None) -> dict:
    """Per language: the classifier's and the majority baseline's scores for ``about`` and ``tone``,
    and the posts it got wrong."""
    classifier = classifier or Classifier()
    out = {}
    for language in sorted({p.language for p in posts}):
        mine = [p for p in posts if p.language == language]
        verdicts = [classifier.classify(p.text, p.language) for p in mine]
        result = {"posts": len(mine), "wrong": []}
        for field, labels in (("about", ABOUTS), ("tone", TONES)):
            truth = [getattr(p, field) for p in mine]
            guess = [getattr(v, field) for v in verdicts]
            majority = Counter(truth).most_common(1)[0][0]
            result[field] = scores(truth, guess, labels)
            result[field]["baseline"] = scores(truth, [majority] * len(truth), labels)
            result[field]["baseline"]["label"] = majority
        result["wrong"] = [(p, v) for p, v in zip(mine, verdicts) if (p.about, p.tone) != (v.about, v.tone)]
        out[language] = result
    return out
