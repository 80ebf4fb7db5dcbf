"""VADER: the zero-dependency English scorer (rule- and lexicon-based).

Only run on the languages it was built for (English): anything else is labelled ``unscored``
with a reason, never ``neutral`` (see ../shared/docs/sentiment.md). Long texts are cut and
scored per sentence, because VADER's cost grows faster than linearly with length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from kuulo.model import Score, ScoreInput, SentimentLabel
from kuulo.settings import SentimentSettings
from sentiment.text import split_sentences


class VaderScorer:
    name: ClassVar[str] = "vader"
    version: ClassVar[str] = "3.3.2-1"  # library version - our aggregation rules

    def __init__(self, settings: SentimentSettings | None = None) -> None:
        self.settings = settings or SentimentSettings()
        self._analyzer = SentimentIntensityAnalyzer()  # ~40 ms: create once, reuse

    def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        return [self._score_one(item) for item in items]

    def compound(self, text: str) -> float:
        """VADER compound in [-1, 1]; the mean over sentences for multi-sentence text."""
        sentences = split_sentences(text[: self.settings.max_chars])
        if not sentences:
            return 0.0
        scores = [self._analyzer.polarity_scores(s)["compound"] for s in sentences]
        return float(sum(scores) / len(scores))

    def label(self, compound: float) -> SentimentLabel:
        if compound <= self.settings.negative_threshold:
            return "negative"
        if compound >= self.settings.positive_threshold:
            return "positive"
        return "neutral"

    def _score_one(self, item: ScoreInput) -> Score:
        if item.language and item.language not in self.settings.languages:
            reason = f"language {item.language!r} is not scored by vader"
            return Score("unscored", None, self.name, self.version, reason)
        compound = round(self.compound(item.text), 4)
        return Score(self.label(compound), compound, self.name, self.version)
