"""Per-brand, per-language calibration: staff corrections refit the cut on P(negative).

The method of ../shared/docs/sentiment.md ("Results calibrated with 200 labelled in-domain
mentions"): the scorer stays fixed; only the cut on its P(negative) moves, chosen to maximise
negative F1 on the brand's corrected mentions, or as the highest cut that meets a recall target.
Each language of a brand is fitted on its own (the English and Finnish models do not put
P(negative) on the same scale) once it has enough corrections.
:func:`fit` is pure (numbers in, numbers out); :func:`calibrate` runs it on the store's
corrections with the configured scorer, which must report ``Score.p_negative`` (the default
scorer does; VADER does not); :func:`refit_due` does it unattended, from the scheduler's tick,
for the (brand, language) pairs that gathered enough new corrections. Stored thresholds reach
the scorer through ``ScoreInput.negative_threshold``, filled by ``pipeline.score_pending``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from itertools import groupby
from typing import Any

from kuulo.evaluation import metrics
from kuulo.model import ScoreInput
from kuulo.protocols import Scorer
from kuulo.settings import SentimentSettings
from kuulo.store.calibration import (
    ANY_LANGUAGE,
    CalibrationCheck,
    CalibrationStore,
    CorrectedMention,
)

FOLDS = 5
# A fit is stored only when its 5-fold estimate beats the current negative F1 by this much: on
# 200 in-domain rows (TSE dev, where the default rules were tuned) most fits do not help.
MIN_GAIN = 0.02
log = logging.getLogger(__name__)


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
    """What one fit of one brand in one language found (``kuulo sentiment calibrate``)."""

    brand: str
    language: str  # as brand_calibration stores it: 'en', 'fi', '' (unknown), '*' (any)
    corrections: int
    negatives: int
    current: float | None  # the threshold in force; None: the scorer's own rules
    message: str  # why nothing changed, or what did
    fitted: float | None = None
    before: Figures | None = None
    after: Figures | None = None  # re-scored with the fitted threshold (in-sample)
    held_out: Figures | None = None  # the 5-fold estimate on unseen mentions
    stored: bool = False
    reset: int = 0  # the brand's mentions in that language marked for re-scoring

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def checked(self) -> bool:
        """The fit ran (or could not, for a reason that more corrections will not change)."""
        return self.fitted is not None or not self.message.startswith("not calibrated: ")


def calibrate(
    store: CalibrationStore,
    scorer: Scorer,
    *,
    min_corrections: int,
    recall_target: float | None,
    now: datetime,
    brand: str | None = None,
    language: str | None = None,
    dry_run: bool = False,
) -> list[BrandReport]:
    """Refit each (brand, language) with at least ``min_corrections`` corrected mentions (or
    only ``brand`` / ``language``); store the thresholds that help and mark those mentions for
    re-scoring. Unless ``dry_run``, every fit is recorded (``calibration_checks``) so that
    :func:`refit_due` knows when the next one is due."""
    rows = store.corrected_mentions(brand, language)
    thresholds = store.brand_thresholds()
    reports = []
    for (name, lang), group in groupby(rows, key=lambda r: (r.brand, r.language_key)):
        mentions = list(group)
        current = thresholds.get((name, lang), thresholds.get((name, ANY_LANGUAGE)))
        report = _calibrate_one(
            scorer, name, lang, mentions, current, min_corrections, recall_target
        )
        if not dry_run:
            report = _save(store, scorer, report, recall_target, now)
        reports.append(report)
    if brand is not None and not reports:
        lang = ANY_LANGUAGE if language is None else language
        current = thresholds.get((brand, lang), thresholds.get((brand, ANY_LANGUAGE)))
        reports.append(BrandReport(brand, lang, 0, 0, current, "no corrected mentions"))
    return reports


def _save(
    store: CalibrationStore,
    scorer: Scorer,
    report: BrandReport,
    recall_target: float | None,
    now: datetime,
) -> BrandReport:
    if report.fitted is not None and report.message == "fitted":
        reset = store.save_brand_threshold(
            report.brand, report.language, report.fitted, report.corrections, recall_target,
            _details(report, scorer), now,
        )  # fmt: skip
        report = replace(report, stored=True, reset=reset)
    if report.checked:
        outcome = "stored" if report.stored else "kept" if report.fitted is not None else "skipped"
        check = CalibrationCheck(report.corrections, scorer.version, outcome)
        store.record_calibration_check(report.brand, report.language, check, now)
    return report


def _calibrate_one(
    scorer: Scorer,
    brand: str,
    language: str,
    mentions: list[CorrectedMention],
    current: float | None,
    min_corrections: int,
    recall_target: float | None,
) -> BrandReport:
    gold = [m.label == "negative" for m in mentions]
    base = BrandReport(brand, language, len(mentions), sum(gold), current, "")
    if len(mentions) < min_corrections:
        return replace(
            base,
            message=f"not calibrated: {len(mentions)} corrected mentions, needs "
            f"{min_corrections} ([sentiment] calibration_min_corrections)",
        )
    if not any(gold):
        return replace(base, message="skipped: no corrected mention is negative")
    scores = scorer.score([_input(m, current) for m in mentions])
    p_negative = [s.p_negative for s in scores]
    if any(p is None for p in p_negative):
        return replace(
            base,
            message=f"skipped: scorer {scorer.name!r} reports no P(negative) "
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


def _details(report: BrandReport, scorer: Scorer) -> dict[str, Any]:
    keep = ("negatives", "before", "after", "held_out")
    details = {k: v for k, v in asdict(report).items() if k in keep}
    return {**details, "scorer": scorer.name, "scorer_version": scorer.version}


# -- unattended ---------------------------------------------------------------------------------


def refit_due(
    store: CalibrationStore, settings: SentimentSettings, scorer: Scorer, now: datetime
) -> list[BrandReport]:
    """Refit every (brand, language) that is due, as ``kuulo sentiment calibrate`` would.

    Due: ``[sentiment] auto_calibrate`` is on, it has ``calibration_min_corrections`` corrected
    mentions, and it was never fitted, or has ``calibration_refit_every`` more than at its last
    fit, or was last fitted against another scorer version (a retrained model). The last fit is
    remembered whether it stored a threshold or not, so a fit the 5-fold guard refused is not
    retried every tick. Cheap when nothing is new: one ``count(*), max(id)``; the grouped
    count per (brand, language) runs only after a new correction, or a new scorer version or
    calibration settings.
    """
    minimum = settings.calibration_min_corrections
    if not settings.auto_calibrate:
        return []
    total, last_id = store.correction_watermark()
    key = _scan_key(settings, scorer)
    if total < minimum or store.calibration_scan() == (last_id, key):
        return []
    checks = store.calibration_checks()
    due = [
        key
        for key, count in sorted(store.corrected_counts().items())
        if count >= minimum and _is_due(count, checks.get(key), settings, scorer.version)
    ]
    reports = []
    for brand, language in due:
        found = calibrate(
            store, scorer, min_corrections=minimum,
            recall_target=settings.calibration_recall_target, now=now, brand=brand,
            language=language,
        )  # fmt: skip
        for report in found:
            log.info("%s", log_line(report))
        reports += found
    store.record_calibration_scan(last_id, key, now)
    return reports


def _scan_key(settings: SentimentSettings, scorer: Scorer) -> str:
    """What a scan depends on besides the corrections: a change of any rescans."""
    every, target = settings.calibration_refit_every, settings.calibration_recall_target
    minimum = settings.calibration_min_corrections
    return f"{scorer.name} {scorer.version} min={minimum} every={every} recall={target}"


def _is_due(
    count: int, check: CalibrationCheck | None, settings: SentimentSettings, version: str
) -> bool:
    if check is None or check.scorer_version != version:
        return True
    return count >= check.corrections + settings.calibration_refit_every


def log_line(report: BrandReport) -> str:
    """One line for the log: names, counts and figures only (never a mention's text)."""
    where = f"brand {report.brand!r} language {language_name(report.language)}"
    if report.fitted is None or report.before is None or report.held_out is None:
        return f"sentiment calibration refit: {where}: {report.message}"
    current = "scorer default" if report.current is None else f"{report.current:.3f}"
    outcome = f"stored, {report.reset} mentions to re-score" if report.stored else report.message
    return (
        f"sentiment calibration refit: {where}: {report.corrections} corrected mentions, "
        f"threshold {current} -> {report.fitted:.3f}; before {report.before.line()}; "
        f"after (5-fold) {report.held_out.line()}; {outcome}"
    )


def language_name(language: str) -> str:
    if language == ANY_LANGUAGE:
        return "any language"
    return language or "unknown language"


def report_lines(report: BrandReport) -> list[str]:
    """The report in words, for the CLI: one block per brand and language."""
    current = "scorer default" if report.current is None else f"{report.current:.3f}"
    head = (
        f"{report.brand} ({language_name(report.language)}): {report.corrections} corrected "
        f"mentions ({report.negatives} negative), threshold {current}"
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
