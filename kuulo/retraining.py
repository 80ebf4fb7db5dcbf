"""``kuulo sentiment retrain``: the contract between the spine and a scorer's trainer.

A trainer (entry point group ``kuulo.trainers``, registered under its scorer's name) adds the
staff corrections of one language to that language's development training data and writes a
*new* model version beside the data (``[sentiment] model_dir``), never over the shipped one.
It measures the model in force and the new one on the same rows: the development validation
split, and a held-out slice of the corrections that the new model was not trained on. The
spine decides activation from those figures (:func:`worse_reasons`); the trainer owns the
pointer its scorer reads at start (``activate``/``deactivate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from kuulo.evaluation import LabelledText, Metrics
from kuulo.settings import SentimentSettings

# The development validation split may drop by at most this much negative F1: the corrections
# are the brand's own domain, but the development data cover everything else.
DEV_TOLERANCE = 0.02
MIN_HELD_OUT_NEGATIVES = 5  # fewer, and the held-out comparison says nothing


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    language: str
    corrections: Sequence[LabelledText]  # the latest label per mention, text as judged
    model_dir: Path  # where new versions and the pointer live
    settings: SentimentSettings
    data_dir: Path | None = None  # development data; None: the trainer's default
    limit: int | None = None  # train on a seeded subset of the development data (tests)


@dataclass(frozen=True, slots=True)
class RetrainReport:
    """A new model version, and the figures of the model in force (``old``) against it."""

    language: str
    name: str  # the new version's folder under model_dir (``<language>-<base>-<corrections>``)
    path: Path
    old_model: str  # what it was compared with: "shipped" or a folder name
    corrections_train: int
    corrections_held_out: int
    held_out_negatives: int
    old_dev: Metrics
    new_dev: Metrics
    old_held_out: Metrics
    new_held_out: Metrics
    seconds: float


class Trainer(Protocol):
    languages: ClassVar[tuple[str, ...]]

    def retrain(self, request: RetrainRequest) -> RetrainReport: ...
    def activate(self, model_dir: Path, language: str, name: str) -> None: ...
    def deactivate(self, model_dir: Path, language: str) -> bool: ...
    def active(self, model_dir: Path) -> dict[str, str]: ...


def worse_reasons(report: RetrainReport) -> list[str]:
    """Why the new model must not be activated without ``--force`` (empty: it may be)."""
    reasons = []
    if report.held_out_negatives < MIN_HELD_OUT_NEGATIVES:
        reasons.append(
            f"only {report.held_out_negatives} negative corrections held out (needs "
            f"{MIN_HELD_OUT_NEGATIVES}): nothing to compare on"
        )
    elif report.new_held_out.neg_f1 < report.old_held_out.neg_f1:
        reasons.append(
            f"negative F1 on the held-out corrections drops {report.old_held_out.neg_f1:.3f} "
            f"-> {report.new_held_out.neg_f1:.3f}"
        )
    if report.new_dev.neg_f1 < report.old_dev.neg_f1 - DEV_TOLERANCE:
        reasons.append(
            f"negative F1 on the development validation split drops {report.old_dev.neg_f1:.3f}"
            f" -> {report.new_dev.neg_f1:.3f} (more than {DEV_TOLERANCE})"
        )
    return reasons


def report_lines(report: RetrainReport) -> list[str]:
    """The comparison in words, for the CLI."""
    lines = [
        f"{report.language}: new model {report.name} ({report.seconds:.0f} s), trained with "
        f"{report.corrections_train} corrections; {report.corrections_held_out} held out "
        f"({report.held_out_negatives} negative), compared with the {report.old_model} model",
        f"  {'':30} {'n':>6} {'neg P':>6} {'neg R':>6} {'neg F1':>6} {'macroF1':>7} {'acc':>6}",
    ]
    rows: Sequence[tuple[str, Metrics]] = (
        ("dev validation, old", report.old_dev),
        ("dev validation, new", report.new_dev),
        ("held-out corrections, old", report.old_held_out),
        ("held-out corrections, new", report.new_held_out),
    )
    for name, m in rows:
        lines.append(
            f"  {name:30} {m.n:>6} {m.neg_precision:>6.3f} {m.neg_recall:>6.3f} "
            f"{m.neg_f1:>6.3f} {m.macro_f1:>7.3f} {m.accuracy:>6.3f}"
        )
    lines.append(f"  written to {report.path}")
    return lines
