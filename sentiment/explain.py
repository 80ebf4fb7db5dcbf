"""Turning a model's arithmetic into words a person can check: the reasons beside each label.

A label nobody can check is a label nobody trusts, and staff corrections (the largest gain in
../shared/docs/sentiment.md) need to see *why* a mention was flagged. Two sources of words:

- the linear model: per whitespace word, the sum of coefficient x feature value of every term
  cut from it (word, part of a word bigram, char n-grams) towards the label's class; runs of
  neighbouring words that all push that way become one phrase ("still no bag");
- VADER, when it voted negative: the lexicon words that carried negative valence, with the
  negation VADER applied ("not good").
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

MAX_PHRASE_WORDS = 4
MIN_WORD_CONTRIBUTION = 0.15  # logit units; below this a word does not move the label
RELATIVE_CUTOFF = 0.3  # ...nor does one under 30% of the text's strongest word
_EDGE = string.punctuation + "\u201c\u201d\u2018\u2019«»…"  # typographic quotes too


def phrases(words: Sequence[str], contributions: Sequence[float]) -> list[tuple[str, float]]:
    """Phrases of ``words`` pushing towards the class, strongest first, with their weight.

    A phrase is a run of neighbouring words that each contribute at least
    :data:`MIN_WORD_CONTRIBUTION` and :data:`RELATIVE_CUTOFF` of the strongest word; a longer
    run keeps its strongest window of :data:`MAX_PHRASE_WORDS` words.
    """
    if not contributions:
        return []
    cutoff = max(MIN_WORD_CONTRIBUTION, RELATIVE_CUTOFF * max(contributions))
    found: list[tuple[str, float]] = []
    run: list[int] = []
    for i, weight in enumerate([*contributions, 0.0]):
        if weight >= cutoff:
            run.append(i)
            continue
        if run:
            found.append(_phrase(words, contributions, run))
            run = []
    found = [(text, weight) for text, weight in found if text]
    return sorted(found, key=lambda item: -item[1])


def _phrase(
    words: Sequence[str], contributions: Sequence[float], run: list[int]
) -> tuple[str, float]:
    if len(run) > MAX_PHRASE_WORDS:
        starts = range(len(run) - MAX_PHRASE_WORDS + 1)
        best = max(
            starts, key=lambda s: sum(contributions[i] for i in run[s : s + MAX_PHRASE_WORDS])
        )
        run = run[best : best + MAX_PHRASE_WORDS]
    text = " ".join(words[i] for i in run).strip(_EDGE + " ")
    return text, sum(contributions[i] for i in run)


def vader_negative_hits(analyzer: Any, text: str) -> list[tuple[str, float]]:
    """VADER's negative lexicon hits in ``text``, strongest first, as VADER weighed them.

    Replays VADER's own per-word valence (negation, boosters, "but") rather than looking words
    up, so "not good" is reported as a negative hit and "not bad" is not.
    """
    senti = SentiText(text)
    words = senti.words_and_emoticons
    valences: list[float] = []
    for i, item in enumerate(words):
        lowered = item.lower()
        kind_of = lowered == "kind" and i + 1 < len(words) and words[i + 1].lower() == "of"
        if lowered in BOOSTER_DICT or kind_of:
            valences.append(0.0)
            continue
        valences = analyzer.sentiment_valence(0.0, senti, item, i, valences)
    valences = analyzer._but_check(words, valences)  # VADER's own "but" weighting
    hits: list[tuple[str, float]] = []
    for i, (word, valence) in enumerate(zip(words, valences, strict=True)):
        if valence >= 0:
            continue
        flipped = analyzer.lexicon.get(word.lower(), 0.0) > 0  # negated positive: "not good"
        phrase = f"{words[i - 1]} {word}" if flipped and i > 0 else word
        hits.append((phrase.strip(_EDGE + " "), float(valence)))
    return sorted(hits, key=lambda item: item[1])


def distinct(phrases: Sequence[str]) -> list[str]:
    """Phrases in order without repeats: one inside another (as words, any case, punctuation
    aside) is kept once, as the longer ("not" then "not good" -> "not good")."""
    kept: list[str] = []
    for phrase in phrases:
        key = _key(phrase)
        if key == "  " or any(key in _key(k) for k in kept):
            continue
        inside = [k for k in kept if _key(k) in key]
        if inside:
            kept[kept.index(inside[0])] = phrase
            kept = [k for k in kept if k not in inside[1:]]
        else:
            kept.append(phrase)
    return kept


def _key(phrase: str) -> str:
    return " " + " ".join(w.strip(_EDGE) for w in phrase.lower().split()) + " "


def quoted(items: Sequence[str]) -> str:
    """``"a", "b"``: phrases as the reason shows them (inner double quotes made single)."""
    return ", ".join(f'"{item.replace(chr(34), chr(39))}"' for item in items)


def excerpt(text: str, limit: int = 120) -> str:
    """A sentence as quoted in a reason: at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
