"""The default scorer: per-language TF-IDF + logistic regression, with VADER beside it in English.

What was measured and why this design: ../shared/docs/sentiment.md; the models, their data and
validation figures: ``sentiment/models/MODEL_CARD.md``. Run-time needs only numpy and VADER.

Rules, in order:

1. **Route by language.** English and Finnish go to their model; unknown (None) is read as
   English; any other language is ``unscored`` with the language in the reason, never guessed.
2. **Pieces.** Short texts are scored whole; long ones (over 300 characters, cut at
   ``max_chars``) per sentence (:func:`sentiment.text.scoring_units`).
3. **Label.** Negative when the mean P(negative) over the pieces reaches the model's
   ``threshold`` (tuned on the validation split) or is the likeliest class; or, in English, when
   VADER's mean compound is at or below ``negative_threshold`` ("VADER-or-LR"); or when any one
   sentence of a long text is *clearly* negative: P(negative) >= ``clear_threshold``, or
   (English) both P(negative) >= ``threshold`` and VADER <= ``clear_vader_threshold`` -- the
   points where validation precision reaches 0.9. Otherwise the likelier of neutral and
   positive. So one bitter sentence in a glowing review flags it, and the reason quotes it.
   A brand calibrated on its staff corrections (``ScoreInput.negative_threshold``) replaces
   all of this with one rule: negative iff the mean P(negative) reaches the brand's threshold.
4. **Stars.** A review of 1-2 stars (of 5) is negative evidence beside the text: the label is
   negative, and when the text reads positive the reason says they disagree (as it does for a
   negative text with 4-5 stars, which stays negative: the complaint is in the text).
5. **Reasons and confidence** on every label. ``confidence`` is the model's probability of the
   label, combined with the other evidence that voted for it (:func:`_noisy_or`); ``score``
   is P(positive) - P(negative) of the text, and ``p_negative`` its mean P(negative).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from kuulo.model import Score, ScoreInput, SentimentLabel
from kuulo.settings import SentimentSettings
from sentiment import explain
from sentiment.linear import (
    CLASSES,
    MODELS_DIR,
    FloatArray,
    LinearModel,
    active_names,
    load_active,
)
from sentiment.text import scoring_units

RULES_VERSION = "1"  # bump when the rules above change; the models' hashes follow on their own
LANGUAGES = ("en", "fi")
RATING_EVIDENCE = 0.8  # how much 1-2 stars alone say "negative" (a stated, not fitted, prior)
DISAGREEMENT_CONFIDENCE = 0.5  # stars say negative, the text says positive: read it
MAX_REASON_PHRASES = 4
MAX_QUOTED_SENTENCES = 2
NEG, NEU, POS = (CLASSES.index(c) for c in ("negative", "neutral", "positive"))


def _models_version() -> str:
    """Rules version plus each artifact's hash: retraining changes the version, so
    ``kuulo rescore`` re-scores what the old models labelled."""
    parts = [RULES_VERSION]
    for language in LANGUAGES:
        try:
            config = json.loads((MODELS_DIR / f"{language}.json").read_text(encoding="utf-8"))
            parts.append(f"{language}.{config['artifact']['sha256'][:8]}")
        except (OSError, ValueError, KeyError):
            parts.append(f"{language}.missing")
    return "-".join(parts)


def _version_of(models: Mapping[str, LinearModel]) -> str:
    """The same version string, of the models actually loaded."""
    parts = [RULES_VERSION]
    for language in LANGUAGES:
        model = models.get(language)
        sha = model.config["artifact"]["sha256"][:8] if model else "missing"
        parts.append(f"{language}.{sha}")
    return "-".join(parts)


@dataclass
class _Pieces:
    """One mention as scored: its pieces, their probabilities and (English) VADER compounds."""

    texts: list[str]
    proba: FloatArray
    compounds: list[float] | None


@dataclass
class _Verdict:
    """One mention's decision before it becomes a :class:`Score`."""

    label: SentimentLabel
    confidence: float
    score: float
    text_voted: bool = True  # False: the label comes from the stars, not the words
    vader_decided: bool = False  # VADER voted negative and the model did not
    p_negative: float = 0.0  # the text's mean P(negative): what a calibrated threshold cuts
    clear: list[int] = field(default_factory=list)  # clearly negative sentences
    evidence: list[str] = field(default_factory=list)  # beside the phrases: stars
    notes: list[str] = field(default_factory=list)  # disagreements


class TrainedScorer:
    """English VADER-or-LR and Finnish LR, routed by language; see the module docstring.

    Of ``[sentiment]``, it reads ``negative_threshold`` (VADER's vote) and ``max_chars``.
    ``languages`` and ``positive_threshold`` are VADER's: this scorer scores exactly the
    languages it ships a model for, with thresholds tuned per model.
    """

    name: ClassVar[str] = "default"
    version: ClassVar[str] = _models_version()

    def __init__(
        self,
        settings: SentimentSettings | None = None,
        *,
        models: Mapping[str, LinearModel] | None = None,
    ) -> None:
        """``models`` replaces the shipped ones (training evaluates a candidate with it).

        Otherwise each language's model is the shipped one, or the retrained version that
        ``[sentiment] model_dir``/``active.json`` names (``kuulo sentiment retrain``), read
        once, here; its checksum is verified like the shipped one's. The version then names
        the loaded artifacts, so ``kuulo rescore`` re-scores what the previous model labelled.
        """
        self.settings = settings or SentimentSettings()
        if models is None:
            active = active_names(self.settings.model_dir)
            models = {language: load_active(language, self.settings.model_dir)
                      for language in LANGUAGES}  # fmt: skip
            if active:
                # an instance value shadows the class's (the Scorer protocol's ClassVar): only
                # this scorer runs the retrained model
                vars(self)["version"] = _version_of(models)
        self._models = dict(models)
        self._vader = SentimentIntensityAnalyzer()

    def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        results: list[Score | None] = [None] * len(items)
        routed: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            language = _language(item.language)
            if language in self._models:
                routed.setdefault(language, []).append(i)
            else:
                known = ", ".join(sorted(self._models))
                reason = f"language {language!r} is not scored (models: {known})"
                results[i] = Score("unscored", None, self.name, self.version, reason)
        for language, indices in routed.items():
            scored = self._score_language(self._models[language], [items[i] for i in indices])
            for i, result in zip(indices, scored, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    # -- one language ------------------------------------------------------------------------

    def _score_language(self, model: LinearModel, items: list[ScoreInput]) -> list[Score]:
        units = [scoring_units(item.text, self.settings.max_chars) for item in items]
        flat = [unit for item_units in units for unit in item_units]
        features = model.transform(flat)
        proba = model.predict_proba(features)
        bounds = np.cumsum([0, *(len(u) for u in units)]).tolist()
        pieces = [_Pieces(flat[a:b], proba[a:b], None) for a, b in pairwise(bounds)]
        if model.language == "en":
            self._add_compounds(pieces, model.config["rule"]["threshold"])
        verdicts = [
            self._verdict(model, p, item.rating, item.negative_threshold)
            for p, item in zip(pieces, items, strict=True)
        ]
        for verdict, item in zip(verdicts, items, strict=True):
            if item.negative_threshold is not None:
                verdict.notes.append(f"brand threshold {item.negative_threshold:.3f}")
        klass = np.repeat([CLASSES.index(v.label) for v in verdicts], np.diff(bounds))
        per_word = model.word_contributions(features, klass)
        scores = []
        for i, (verdict, piece) in enumerate(zip(verdicts, pieces, strict=True)):
            words = features.word_start[bounds[i] : bounds[i + 1] + 1]
            contributions = per_word[words[0] : words[-1]].tolist()
            scores.append(self._to_score(verdict, piece, contributions))
        return scores

    def _add_compounds(self, pieces: list[_Pieces], threshold: float) -> None:
        """VADER's compound per piece. A short text the model already flags is not run through
        VADER: its vote could not change the label (a third of the cost saved)."""
        for piece in pieces:
            if len(piece.texts) == 1 and _model_flags(piece.proba[0].tolist(), threshold):
                continue
            piece.compounds = [
                float(self._vader.polarity_scores(text)["compound"]) for text in piece.texts
            ]

    def _verdict(
        self,
        model: LinearModel,
        pieces: _Pieces,
        rating: float | None,
        calibrated: float | None = None,
    ) -> _Verdict:
        """``calibrated``: a brand's fitted cut on P(negative); it alone decides the text's
        negative vote (it was fitted against VADER-or-LR on that brand's own labels)."""
        rule: dict[str, Any] = model.config["rule"]
        proba, compounds = pieces.proba, pieces.compounds
        mean = (proba[0] if len(proba) == 1 else proba.mean(axis=0)).tolist()  # most are one
        signed = round(mean[POS] - mean[NEG], 4)
        compound = sum(compounds) / len(compounds) if compounds else None
        if calibrated is None:
            by_model = _model_flags(mean, rule["threshold"])
            by_vader = compound is not None and compound <= self.settings.negative_threshold
            clear = self._clear_sentences(rule, proba[:, NEG], compounds) if len(proba) > 1 else []
        else:
            by_model, by_vader, clear = mean[NEG] >= calibrated, False, []
        if not (by_model or by_vader or clear):
            label: SentimentLabel = "positive" if mean[POS] > mean[NEU] else "neutral"
            verdict = _Verdict(label, mean[POS] if label == "positive" else mean[NEU], signed)
            verdict.p_negative = mean[NEG]
            _apply_rating(verdict, rating, mean[NEG])
            return verdict
        confidence = mean[NEG]
        if by_vader and compound is not None:
            confidence = _noisy_or(confidence, min(1.0, -compound))
        for k in clear:
            strength = -compounds[k] if compounds else 0.0
            confidence = max(confidence, _noisy_or(float(proba[k, NEG]), strength))
        verdict = _Verdict("negative", confidence, signed, clear=clear)
        verdict.vader_decided = by_vader and not by_model
        verdict.p_negative = mean[NEG]
        _apply_rating(verdict, rating, mean[NEG])
        return verdict

    @staticmethod
    def _clear_sentences(
        rule: dict[str, Any], negative: FloatArray, compounds: list[float] | None
    ) -> list[int]:
        clear = [k for k, p in enumerate(negative) if p >= rule["clear_threshold"]]
        vader_cut = rule.get("clear_vader_threshold")
        if compounds is not None and vader_cut is not None:
            clear += [
                k
                for k, (p, c) in enumerate(zip(negative, compounds, strict=True))
                if p >= rule["threshold"] and c <= vader_cut and k not in clear
            ]
        return sorted(clear)

    # -- reasons -----------------------------------------------------------------------------

    def _to_score(self, verdict: _Verdict, pieces: _Pieces, per_word: list[float]) -> Score:
        phrases = self._phrases(verdict, pieces, per_word) if verdict.text_voted else []
        evidence = [explain.quoted(phrases)] if phrases else []
        for k in verdict.clear[:MAX_QUOTED_SENTENCES]:
            sentence = explain.quoted([explain.excerpt(pieces.texts[k])])
            evidence.append(f"a clearly negative sentence {sentence}")
        evidence += verdict.evidence
        if evidence:
            head = f"{_lead(verdict.label)}: {', '.join(evidence)}"
        else:
            head = f"{verdict.label}: no words the model weighs strongly"
        return Score(
            verdict.label,
            verdict.score,
            self.name,
            self.version,
            "; ".join([head, *verdict.notes]),
            round(verdict.confidence, 4),
            round(verdict.p_negative, 4),
        )

    def _phrases(self, verdict: _Verdict, pieces: _Pieces, per_word: list[float]) -> list[str]:
        """The model's strongest phrases for the label, and VADER's hits when VADER decided."""
        found: list[tuple[str, float]] = []
        offset = 0
        for text in pieces.texts:
            words = text.split()
            found += explain.phrases(words, per_word[offset : offset + len(words)])
            offset += len(words)
        texts = [text for text, _ in sorted(found, key=lambda item: -item[1])]
        if verdict.vader_decided and pieces.compounds is not None:
            hits = [
                hit
                for text, compound in zip(pieces.texts, pieces.compounds, strict=True)
                if compound <= self.settings.negative_threshold
                for hit, _ in explain.vader_negative_hits(self._vader, text)
            ]
            texts = [*texts[:2], *hits, *texts[2:]]
        return explain.distinct(texts)[:MAX_REASON_PHRASES]


def _apply_rating(verdict: _Verdict, rating: float | None, text_negative: float) -> None:
    """Stars as evidence beside the text (5-point scale; other values are left out)."""
    if rating is None:
        return
    if not 0 <= rating <= 5:
        verdict.notes.append(f"rating {rating:g} is not on a 5-point scale and was not used")
        return
    stars = f"rated {rating:g}/5"
    if rating <= 2:
        if verdict.label == "positive":
            verdict.notes.append(f"stars and text disagree: the text reads positive but {stars}")
            verdict.confidence = DISAGREEMENT_CONFIDENCE
        else:
            base = verdict.confidence if verdict.label == "negative" else text_negative
            verdict.confidence = _noisy_or(base, RATING_EVIDENCE)
        verdict.text_voted = verdict.label == "negative"
        verdict.label = "negative"
        verdict.evidence.append(stars)
    elif rating >= 4 and verdict.label == "negative":
        verdict.notes.append(f"stars and text disagree: the text reads negative but {stars}")


def _model_flags(proba: list[float], threshold: float) -> bool:
    """The model's own negative vote: P(negative) at the threshold, or the likeliest class."""
    return proba[NEG] >= threshold or proba[NEG] >= max(proba[NEU], proba[POS])


def _noisy_or(a: float, b: float) -> float:
    """Two independent pieces of evidence for the same label: 1 - (1 - a)(1 - b)."""
    return 1.0 - (1.0 - a) * (1.0 - b)


def _lead(label: SentimentLabel) -> str:
    return "flagged negative because" if label == "negative" else f"{label} because"


def _language(code: str | None) -> str:
    """``None``/empty is read as English; ``en-GB`` as ``en``."""
    if not code:
        return "en"
    return code.replace("_", "-").split("-")[0].lower()
