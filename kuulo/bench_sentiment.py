"""``make bench`` (sentiment part): quality and speed of each scorer, measured in the same run.

Datasets are the development validation splits (English: the TSE ``test`` part; Finnish:
FinnSentiment splits 17-18) from ``../shared/data/sentiment``; the held-out test sets live
outside the project. Each row is given its known language, so this measures the scorer, not
language detection. Note: the shipped Finnish model was refitted on splits 1-18 (the training
recipe), so its Finnish figures here are optimistic; ``sentiment/models/MODEL_CARD.md`` has the
honest ones. Scorers are found through the registry (the spine never imports ``sentiment``).
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kuulo import registry
from kuulo.evaluation import LabelledText, metrics, score_rows
from kuulo.protocols import Scorer
from kuulo.settings import SentimentSettings

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentiment"
SCORERS: tuple[str, ...] = ("vader", "default")


def _tse_test(data_dir: Path) -> list[LabelledText]:
    rows = _read_tsv(data_dir / "tweet_sentiment_extraction.tsv")
    return [LabelledText(r["text"], r["label"], "en") for r in rows if r["part"] == "test"]


def _finnsentiment_17_18(data_dir: Path) -> list[LabelledText]:
    rows = _read_tsv(data_dir / "finnsentiment_split01-18.tsv")
    return [LabelledText(r["text"], r["label"], "fi") for r in rows if int(r["split"]) >= 17]


DATASETS: dict[str, Callable[[Path], list[LabelledText]]] = {
    "tse_test_en": _tse_test,
    "finnsentiment_17_18_fi": _finnsentiment_17_18,
}


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        return [dict(zip(header, row, strict=True)) for row in reader]


def measure_sentiment(
    data_dir: Path | None = None, scorers: Sequence[str] = SCORERS
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{dataset: {scorer: {neg_precision, ..., accuracy, texts_per_s}}}``; ``{}`` when the
    development data are absent (the caller says so and skips)."""
    data_dir = data_dir or DATA_DIR
    if not data_dir.is_dir():
        return {}
    datasets = {name: load(data_dir) for name, load in DATASETS.items()}
    built = {name: _build(name) for name in scorers}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for dataset, rows in datasets.items():
        results[dataset] = {name: _measure(scorer, rows) for name, scorer in built.items()}
    return results


def _build(name: str) -> Scorer:
    cls = registry.load(registry.SCORERS, name)
    scorer: Scorer = cls(SentimentSettings(scorer=name))
    return scorer


def _measure(scorer: Scorer, rows: list[LabelledText]) -> dict[str, Any]:
    score_rows(scorer, rows[:200])  # warm-up: first-call costs are not throughput
    started = time.perf_counter()
    predicted = score_rows(scorer, rows)
    elapsed = time.perf_counter() - started
    m = metrics([r.label for r in rows], predicted)
    return {
        "n": m.n,
        "neg_precision": m.neg_precision,
        "neg_recall": m.neg_recall,
        "neg_f1": m.neg_f1,
        "macro_f1": m.macro_f1,
        "accuracy": m.accuracy,
        "unscored": m.unscored,
        "texts_per_s": round(len(rows) / elapsed, 1),
    }


def table_lines(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    head = ("dataset", "scorer", "n", "neg P", "neg R", "neg F1", "macro-F1", "acc", "texts/s")
    rows: list[tuple[str, ...]] = [head]
    keys = ("neg_precision", "neg_recall", "neg_f1", "macro_f1", "accuracy")
    for dataset, by_scorer in results.items():
        for scorer, f in by_scorer.items():
            cells = [f"{f[k]:.3f}" for k in keys]
            rows.append((dataset, scorer, str(f["n"]), *cells, f"{f['texts_per_s']:,.0f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]


def main(data_dir: Path | None = None) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as documented
    results = measure_sentiment(data_dir)
    if not results:
        print(f"sentiment benchmark skipped: no development data at {data_dir or DATA_DIR}")  # noqa: T201
        return
    print("sentiment benchmark: development validation splits, one core")  # noqa: T201
    for line in table_lines(results):
        print(f"  {line}")  # noqa: T201
    print("  (the shipped Finnish model has seen splits 17-18; see MODEL_CARD.md)")  # noqa: T201
    from kuulo.bench import RESULTS, write_results

    write_results("sentiment", results)
    print(f"written to {RESULTS}")  # noqa: T201


if __name__ == "__main__":
    main()
