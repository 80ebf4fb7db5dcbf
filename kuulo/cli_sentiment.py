"""``kuulo sentiment``: commands about the sentiment scorers: ``eval``, ``calibrate`` (per-brand
thresholds from staff corrections, :mod:`kuulo.calibration`) and ``export-labels``.

Registered on the ``kuulo`` group with ``cli.add_command(sentiment_group)``. This module does not
import :mod:`kuulo.cli` (no cycle), and it finds scorers through the registry only: the spine
never imports the ``sentiment`` plug-in folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol

import click

from kuulo import registry
from kuulo.calibration import calibrate, report_lines
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.evaluation import LabelledText, metrics_by_language, read_jsonl, score_rows, table_lines
from kuulo.normalise import detect_language
from kuulo.protocols import Scorer
from kuulo.settings import SentimentSettings, Settings, resolve_config_path
from kuulo.store import open_store


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


@sentiment_group.command("calibrate")
@click.option("--brand", help="Only this brand (default: every brand with corrections).")
@click.option("--dry-run", is_flag=True, help="Show the fit; store nothing, re-score nothing.")
@click.option("--forget", is_flag=True, help="Drop --brand's threshold: back to the scorer's own.")
@click.option(
    "--recall-target",
    type=click.FloatRange(0, 1, min_open=True),
    help="Fit the highest threshold with this negative recall (default: [sentiment] "
    "calibration_recall_target, else the best negative F1).",
)
@click.pass_context
def calibrate_cmd(
    ctx: click.Context,
    brand: str | None,
    dry_run: bool,
    forget: bool,
    recall_target: float | None,
) -> None:
    """Refit each brand's negative threshold on its staff sentiment corrections.

    A brand needs [sentiment] calibration_min_corrections corrected mentions (default 200).
    Prints the corrections, the current and fitted threshold and negative precision, recall
    and F1 before and after (in-sample, and 5-fold on mentions the fit did not see). Unless
    --dry-run, a threshold that helps is stored and the brand's mentions are marked for
    re-scoring: the next `kuulo run` or `kuulo rescore` applies it.
    """
    settings = _settings(ctx)
    if forget:
        if not brand:
            raise click.UsageError("--forget needs --brand")
        with open_store(settings.database_path()) as store:
            reset = store.forget_brand_threshold(brand)
        if reset is None:
            raise click.ClickException(f"{brand}: not calibrated")
        click.echo(
            f"{brand}: threshold dropped; {reset} mentions will be re-scored by the next run"
        )
        return
    sentiment = settings.sentiment
    try:
        scorer = _scorer(sentiment)
        with open_store(settings.database_path()) as store:
            reports = calibrate(
                store,
                scorer,
                min_corrections=sentiment.calibration_min_corrections,
                recall_target=recall_target or sentiment.calibration_recall_target,
                now=utcnow(),
                brand=brand,
                dry_run=dry_run,
            )
    except KuuloError as exc:
        raise click.ClickException(str(exc)) from None
    if not reports:
        click.echo("no corrected mentions yet: correct sentiment in the dashboard inbox first")
    for report in reports:
        for line in report_lines(report):
            click.echo(line)


@sentiment_group.command("export-labels")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output).")  # fmt: skip
@click.option("--brand", help="Only this brand's corrected mentions.")
@click.pass_context
def export_labels(ctx: click.Context, output: Path | None, brand: str | None) -> None:
    """Write staff sentiment corrections as labelled JSON Lines for `kuulo sentiment eval`.

    One row per corrected mention (the latest correction, while the text is the one judged):
    {"text", "label", "language", "brand"}; "brand" lists the mention's brands, comma-separated.
    """
    with open_store(_settings(ctx).database_path()) as store:
        rows = store.corrected_mentions(brand)
    merged: dict[str, dict[str, str | None]] = {}
    for row in rows:
        if row.mention_id in merged:
            merged[row.mention_id]["brand"] = f"{merged[row.mention_id]['brand']}, {row.brand}"
            continue
        merged[row.mention_id] = {
            "text": row.text, "label": row.label, "language": row.language, "brand": row.brand
        }  # fmt: skip
    lines = [json.dumps(item, ensure_ascii=False) for item in merged.values()]
    if output is None:
        for line in lines:
            click.echo(line)
        return
    output.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    click.echo(f"{len(lines)} labelled mentions written to {output}", err=True)


def _settings(ctx: click.Context) -> Settings:
    state: _HasSettings | None = ctx.find_root().obj
    if state is None:
        raise click.UsageError("run it as `kuulo sentiment ...` (it needs the settings)")
    return state.settings


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
