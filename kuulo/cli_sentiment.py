"""``kuulo sentiment``: commands about the sentiment scorers (``eval`` so far).

Registered on the ``kuulo`` group with ``cli.add_command(sentiment_group)``. This module does not
import :mod:`kuulo.cli` (no cycle), and it finds scorers through the registry only: the spine
never imports the ``sentiment`` plug-in folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import click

from kuulo import registry
from kuulo.errors import KuuloError
from kuulo.evaluation import LabelledText, metrics_by_language, read_jsonl, score_rows, table_lines
from kuulo.normalise import detect_language
from kuulo.protocols import Scorer
from kuulo.settings import SentimentSettings, Settings, resolve_config_path


class _HasSettings(Protocol):
    config: str | None

    @property
    def settings(self) -> Settings: ...


@click.group("sentiment")
def sentiment_group() -> None:
    """Sentiment scorers: measure them on labelled text."""


@sentiment_group.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--scorer",
    "scorer_name",
    help="A registered scorer, e.g. default or vader (default: the [sentiment] scorer).",
)
@click.pass_context
def evaluate(ctx: click.Context, file: Path, scorer_name: str | None) -> None:
    """Print negative P/R/F1, macro-F1 and accuracy per language for a labelled FILE.

    FILE is JSON Lines: {"text": ..., "label": "negative|neutral|positive", "language": "en"}.
    Rows without "language" get the one kuulo would detect for a mention. An "unscored"
    prediction counts as wrong.
    """
    settings = _sentiment_settings(ctx)
    if scorer_name:
        settings = settings.model_copy(update={"scorer": scorer_name})
    try:
        rows = read_jsonl(file)
        scorer = _scorer(settings)
    except (ValueError, KuuloError) as exc:
        raise click.ClickException(str(exc)) from None
    if not rows:
        raise click.ClickException(f"{file}: no labelled rows")
    rows = [_with_language(row) for row in rows]
    started = time.perf_counter()
    predicted = score_rows(scorer, rows)
    elapsed = time.perf_counter() - started
    click.echo(f"scorer {scorer.name} {scorer.version}: {len(rows)} texts, "
               f"{len(rows) / max(elapsed, 1e-9):,.0f} texts/s")  # fmt: skip
    triples = [(r.language, r.label, p) for r, p in zip(rows, predicted, strict=True)]
    for line in table_lines(metrics_by_language(triples)):
        click.echo(line)


def _scorer(settings: SentimentSettings) -> Scorer:
    cls = registry.load(registry.SCORERS, settings.scorer)
    scorer: Scorer = cls(settings)
    return scorer


def _sentiment_settings(ctx: click.Context) -> SentimentSettings:
    """The configured [sentiment] table; the defaults when there is no config file at all."""
    state: _HasSettings | None = ctx.find_root().obj
    if state is None:
        return SentimentSettings()
    if state.config is None and not resolve_config_path(None).exists():
        return SentimentSettings()
    return state.settings.sentiment


def _with_language(row: LabelledText) -> LabelledText:
    if row.language:
        return row
    return LabelledText(row.text, row.label, detect_language(row.text))
