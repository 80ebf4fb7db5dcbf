"""Per-brand calibration: staff corrections refit the negative threshold on P(negative).

The method of ../shared/docs/sentiment.md ("Results calibrated with 200 labelled in-domain
mentions"): the scorer stays fixed; only the cut on its P(negative) moves, chosen to maximise
negative F1 on the brand's corrected mentions, or as the highest cut that meets a recall target.
:func:`fit` is pure (numbers in, numbers out); :func:`calibrate` runs it on the store's
corrections with the configured scorer, which must report ``Score.p_negative`` (the default
scorer does; VADER does not). Stored thresholds reach the scorer through
``ScoreInput.negative_threshold``, filled by ``pipeline.score_pending``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from itertools import groupby
from typing import Any

from kuulo.evaluation import metrics
from kuulo.model import ScoreInput
from kuulo.protocols import Scorer
from kuulo.store.calibration import CalibrationStore, CorrectedMention

FOLDS = 5
# A fit is stored only when its 5-fold estimate beats the current negative F1 by this much: on
# 200 in-domain rows (TSE dev, where the default rules were tuned) most fits do not help.
MIN_GAIN = 0.02


@dataclass(frozen=True, slots=True)
class Figures:
    """Negative-class precision, recall and F1 of a set of predictions."""

    precision: float
    recall: float
    f1: float

    def line(self) -> str:
        return f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"


@dataclass(frozen=True, slots=True)
class Fit:
    """The chosen threshold and what it does on the rows it was fitted on (``after``) and,
    fitted on four fifths and scored on the fifth left out, on unseen rows (``held_out``)."""

    threshold: float
    after: Figures
    held_out: Figures


def figures(gold_negative: Sequence[bool], predicted_negative: Sequence[bool]) -> Figures:
    tp = sum(g and p for g, p in zip(gold_negative, predicted_negative, strict=True))
    predicted, actual = sum(predicted_negative), sum(gold_negative)
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Figures(round(precision, 4), round(recall, 4), round(f1, 4))


def best_threshold(
    p_negative: Sequence[float],
    gold_negative: Sequence[bool],
    recall_target: float | None = None,
) -> float:
    """The cut on P(negative) that maximises negative F1 (ties: the higher cut), or with a
    ``recall_target`` the highest cut whose recall meets it. The cut sits half-way between the
    lowest P(negative) it flags and the next one down, so it is not tuned to one row's digits.
    """
    actual = sum(gold_negative)
    if not actual:
        raise ValueError("no corrected mention is negative: there is nothing to calibrate on")
    ranked = sorted(zip(p_negative, gold_negative, strict=True), key=lambda r: -r[0])
    values = sorted({p for p, _ in ranked}, reverse=True)
    cuts: list[tuple[float, int, int]] = []  # (flag P >= cut, true positives, flagged)
    tp = flagged = 0
    for value, group in groupby(ranked, key=lambda r: r[0]):
        rows = list(group)
        flagged += len(rows)
        tp += sum(g for _, g in rows)
        cuts.append((value, tp, flagged))
    if recall_target is not None:
        chosen = next(i for i, (_, tp, _) in enumerate(cuts) if tp / actual >= recall_target)
    else:
        scores = [2 * tp / (flagged + actual) for _, tp, flagged in cuts]
        chosen = scores.index(max(scores))
    value = cuts[chosen][0]
    below = values[chosen + 1] if chosen + 1 < len(values) else None
    return value if below is None else (value + below) / 2


def fit(
    p_negative: Sequence[float],
    gold_negative: Sequence[bool],
    recall_target: float | None = None,
) -> Fit:
    """:func:`best_threshold` on every row, with its in-sample and 5-fold held-out figures."""
    threshold = best_threshold(p_negative, gold_negative, recall_target)
    after = figures(gold_negative, [p >= threshold for p in p_negative])
    held: list[bool] = [False] * len(p_negative)
    for fold in range(FOLDS):
        train = [i for i in range(len(p_negative)) if i % FOLDS != fold]
        if not any(gold_negative[i] for i in train):
            return Fit(threshold, after, after)  # too few negatives to hold any out
        cut = best_threshold(
            [p_negative[i] for i in train], [gold_negative[i] for i in train], recall_target
        )
        for i in range(fold, len(p_negative), FOLDS):
            held[i] = p_negative[i] >= cut
    return Fit(threshold, after, figures(gold_negative, held))


# -- on the store's corrections ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrandReport:
    """What ``kuulo sentiment calibrate`` found for one brand."""

    brand: str
    corrections: int
    negatives: int
    current: float | None  # the stored threshold; None: the scorer's own rules
    message: str  # why nothing changed, or what did
    fitted: float | None = None
    before: Figures | None = None
    after: Figures | None = None  # re-scored with the fitted threshold (in-sample)
    held_out: Figures | None = None  # the 5-fold estimate on unseen mentions
    stored: bool = False
    reset: int = 0  # the brand's mentions marked for re-scoring

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def calibrate(
    store: CalibrationStore,
    scorer: Scorer,
    *,
    min_corrections: int,
    recall_target: float | None,
    now: datetime,
    brand: str | None = None,
    dry_run: bool = False,
) -> list[BrandReport]:
    """Refit each brand with at least ``min_corrections`` corrected mentions (or only
    ``brand``); store the thresholds that help and mark those brands' mentions for re-scoring."""
    rows = store.corrected_mentions(brand)
    current = store.brand_thresholds()
    reports = []
    for name, group in groupby(rows, key=lambda r: r.brand):
        mentions = list(group)
        report = _calibrate_brand(
            scorer, name, mentions, current.get(name), min_corrections, recall_target
        )
        if report.fitted is not None and not dry_run and report.message.startswith("fitted"):
            reset = store.save_brand_threshold(
                name, report.fitted, len(mentions), recall_target, _details(report), now
            )
            report = replace(report, stored=True, reset=reset)
        reports.append(report)
    if brand is not None and not reports:
        reports.append(BrandReport(brand, 0, 0, current.get(brand), "no corrected mentions"))
    return reports


def _calibrate_brand(
    scorer: Scorer,
    brand: str,
    mentions: list[CorrectedMention],
    current: float | None,
    min_corrections: int,
    recall_target: float | None,
) -> BrandReport:
    gold = [m.label == "negative" for m in mentions]
    base = BrandReport(brand, len(mentions), sum(gold), current, "")
    if len(mentions) < min_corrections:
        return replace(
            base,
            message=f"not calibrated: {len(mentions)} corrected mentions, needs "
            f"{min_corrections} ([sentiment] calibration_min_corrections)",
        )
    if not any(gold):
        return replace(base, message="not calibrated: no corrected mention is negative")
    scores = scorer.score([_input(m, current) for m in mentions])
    p_negative = [s.p_negative for s in scores]
    if any(p is None for p in p_negative):
        return replace(
            base,
            message=f"not calibrated: scorer {scorer.name!r} reports no P(negative) "
            "(use the default scorer)",
        )
    probabilities = [p for p in p_negative if p is not None]
    result = fit(probabilities, gold, recall_target)
    before = _negative([m.label for m in mentions], [s.label for s in scores])
    rescored = scorer.score([_input(m, result.threshold) for m in mentions])
    after = _negative([m.label for m in mentions], [s.label for s in rescored])
    report = replace(
        base, fitted=result.threshold, before=before, after=after, held_out=result.held_out
    )
    if recall_target is None and result.held_out.f1 < before.f1 + MIN_GAIN:
        return replace(
            report,
            message=f"kept the current threshold: the 5-fold F1 does not beat it by {MIN_GAIN}",
        )
    return replace(report, message="fitted")


def _input(m: CorrectedMention, threshold: float | None) -> ScoreInput:
    return ScoreInput(m.text, m.language, m.rating, threshold)


def _negative(gold: list[str], predicted: list[str]) -> Figures:
    m = metrics(gold, predicted)
    return Figures(m.neg_precision, m.neg_recall, m.neg_f1)


def _details(report: BrandReport) -> dict[str, Any]:
    keep = ("negatives", "before", "after", "held_out")
    return {k: v for k, v in asdict(report).items() if k in keep}


def report_lines(report: BrandReport) -> list[str]:
    """The report in words, for the CLI."""
    current = "scorer default" if report.current is None else f"{report.current:.3f}"
    head = (
        f"{report.brand}: {report.corrections} corrected mentions "
        f"({report.negatives} negative), threshold {current}"
    )
    if report.fitted is None or report.before is None or report.after is None:
        return [head, f"  {report.message}"]
    lines = [
        f"{head} -> fitted {report.fitted:.3f}",
        f"  before:            {report.before.line()}",
        f"  after (in-sample): {report.after.line()}",
    ]
    if report.held_out is not None:
        lines.append(f"  after (5-fold):    {report.held_out.line()}")
    if report.stored:
        lines.append(f"  stored; {report.reset} mentions will be re-scored by the next run")
    else:
        lines.append(f"  {'dry run: not stored' if report.message == 'fitted' else report.message}")
    return lines
