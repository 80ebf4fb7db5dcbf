"""Scoring a scorer: the metrics of ../shared/docs/sentiment.md, as pure functions.

Negative precision / recall / F1 come first because complaints are what a listening service is
for; macro-F1 (over negative, neutral, positive) and accuracy show what that costs elsewhere.
A prediction of ``unscored`` is simply wrong (it matches no gold label), so a scorer cannot
look better by declining. No scikit-learn: this runs in the service and in ``make bench``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kuulo.model import ScoreInput
from kuulo.protocols import Scorer

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
ALL = "all"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One evaluation row: the text, its gold label and, when known, its language."""

    text: str
    label: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    neg_precision: float
    neg_recall: float
    neg_f1: float
    macro_f1: float
    accuracy: float
    unscored: int  # predictions that were "unscored" (counted as wrong)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prf(tp: int, predicted: int, actual: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> Metrics:
    """Metrics of ``predicted`` against ``gold`` (same length, labels from :data:`LABELS`).

    Macro-F1 averages over those of the three labels that occur in gold or predictions, so a
    small per-language subset is not marked down for a class it does not have.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    pairs = Counter(zip(gold, predicted, strict=True))
    gold_counts = Counter(gold)
    predicted_counts = Counter(predicted)
    f1s = []
    for label in LABELS:
        prf = _prf(pairs[(label, label)], predicted_counts[label], gold_counts[label])
        if gold_counts[label] or predicted_counts[label]:
            f1s.append(prf[2])
    negative = _prf(
        pairs[("negative", "negative")], predicted_counts["negative"], gold_counts["negative"]
    )
    correct = sum(pairs[(label, label)] for label in LABELS)
    return Metrics(
        n=len(gold),
        neg_precision=round(negative[0], 4),
        neg_recall=round(negative[1], 4),
        neg_f1=round(negative[2], 4),
        macro_f1=round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        accuracy=round(correct / len(gold), 4) if gold else 0.0,
        unscored=predicted_counts["unscored"],
    )


def metrics_by_language(
    rows: Iterable[tuple[str | None, str, str]],
) -> dict[str, Metrics]:
    """``(language, gold, predicted)`` rows -> metrics per language (``?`` when unknown), and
    over every row under :data:`ALL`."""
    groups: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for language, gold, predicted in rows:
        for key in (language or "?", ALL):
            groups[key][0].append(gold)
            groups[key][1].append(predicted)
    return {key: metrics(g, p) for key, (g, p) in sorted(groups.items(), key=_all_last)}


def _all_last(item: tuple[str, Any]) -> tuple[bool, str]:
    return item[0] == ALL, item[0]


def score_rows(scorer: Scorer, rows: Sequence[LabelledText], batch: int = 500) -> list[str]:
    """The scorer's label for each row, scored in batches as the pipeline does."""
    labels: list[str] = []
    for start in range(0, len(rows), batch):
        chunk = [ScoreInput(r.text, r.language) for r in rows[start : start + batch]]
        labels += [score.label for score in scorer.score(chunk)]
    return labels


def read_jsonl(path: Path) -> list[LabelledText]:
    """Rows of a labelled JSON Lines file: ``text``, ``label``, optional ``language``.

    Blank lines are skipped; anything else that is not such an object is a ``ValueError``
    naming the line, because a silently dropped row would bias the figures.
    """
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                rows.append(_parse_row(line, f"{path}:{number}"))
    return rows


def _parse_row(line: str, where: str) -> LabelledText:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise ValueError(f'{where}: expected an object with a "text" string')
    label = data.get("label")
    if label not in LABELS:
        raise ValueError(f"{where}: label must be one of {', '.join(LABELS)}, not {label!r}")
    language = data.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError(f'{where}: "language" must be a string')
    return LabelledText(data["text"], label, language or None)


HEADER = ("language", "n", "neg P", "neg R", "neg F1", "macro-F1", "acc", "unscored")


def table_lines(results: dict[str, Metrics]) -> list[str]:
    """A plain-text table, one line per language (``all`` last)."""
    rows: list[tuple[str, ...]] = [HEADER]
    for language, m in results.items():
        figures = (m.neg_precision, m.neg_recall, m.neg_f1, m.macro_f1, m.accuracy)
        rows.append((language, str(m.n), *(f"{v:.3f}" for v in figures), str(m.unscored)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
