"""``kuulo sentiment``: commands about the sentiment scorers: ``eval``, ``calibrate`` (per-brand,
per-language thresholds from staff corrections, :mod:`kuulo.calibration`), ``export-labels`` and
``retrain`` (a new model version with the corrections, :mod:`kuulo.retraining`).

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
from kuulo.calibration import calibrate, language_name, report_lines
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.evaluation import LabelledText, metrics_by_language, read_jsonl, score_rows, table_lines
from kuulo.normalise import detect_language
from kuulo.protocols import Scorer
from kuulo.retraining import RetrainReport, RetrainRequest, Trainer, worse_reasons
from kuulo.retraining import report_lines as retrain_lines
from kuulo.settings import SentimentSettings, Settings, resolve_config_path
from kuulo.store import CorrectedMention, open_store


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
@click.option(
    "--language",
    help="Only this language (e.g. en, fi; with --forget also '*', the any-language row).",
)
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
    language: str | None,
    dry_run: bool,
    forget: bool,
    recall_target: float | None,
) -> None:
    """Refit each brand's negative threshold per language on its staff sentiment corrections.

    A brand needs [sentiment] calibration_min_corrections corrected mentions in a language
    (default 200) for that language to be fitted: the models of different languages do not put
    P(negative) on the same scale. Prints, per brand and language, the corrections, the current
    and fitted threshold and negative precision, recall and F1 before and after (in-sample, and
    5-fold on mentions the fit did not see). Unless --dry-run, a threshold that helps is stored
    and the brand's mentions in that language are marked for re-scoring: the next `kuulo run`
    or `kuulo rescore` applies it. With [sentiment] auto_calibrate, `kuulo run` does this on
    its own as corrections arrive.
    """
    settings = _settings(ctx)
    language = language.lower() if language else None
    if forget:
        _forget(settings, brand, language)
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
                language=language,
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


@sentiment_group.command("retrain")
@click.option("--language", "languages", multiple=True,
              help="This language (repeatable; default: all with enough corrections).")  # fmt: skip
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Development training data (default: ../shared/data/sentiment).")  # fmt: skip
@click.option("--min-corrections", type=click.IntRange(1),
              help="Corrected mentions a language needs (default: [sentiment] "
              "calibration_min_corrections).")  # fmt: skip
@click.option("--force", is_flag=True, help="Activate the new model even if it measures worse.")
@click.option("--no-activate", is_flag=True, help="Write and measure the model; activate nothing.")
@click.option("--deactivate", is_flag=True, help="Go back to the shipped model for --language.")
@click.option("--limit", type=click.IntRange(100), hidden=True,
              help="Train on a seeded subset of the development data (tests).")  # fmt: skip
@click.pass_context
def retrain_cmd(
    ctx: click.Context,
    languages: tuple[str, ...],
    data_dir: Path | None,
    min_corrections: int | None,
    force: bool,
    no_activate: bool,
    deactivate: bool,
    limit: int | None,
) -> None:
    """Add the staff corrections to the training data and build a new model version (opt-in).

    Per language: the latest correction of each mention (while its text is the version judged)
    joins that language's development training data; one in five, by a hash of the text, is held
    out. The new version is written to [sentiment] model_dir (never over the shipped model), and
    the model in force and the new one are compared on the development validation split and on
    the held-out corrections. A model that is worse on either is not activated unless --force.
    Activation writes model_dir/active.json, which the default scorer reads at start: restart
    kuulo, then `kuulo rescore` re-scores with the new version (brand thresholds refit on their
    own with [sentiment] auto_calibrate, else run `kuulo sentiment calibrate`).
    Needs scikit-learn: pip install 'kuulo[train]'.
    """
    settings = _settings(ctx)
    sentiment = settings.sentiment
    trainer = _trainer(sentiment)
    wanted = [language.lower() for language in languages]
    if deactivate:
        if not wanted:
            raise click.UsageError("--deactivate needs --language")
        for language in wanted:
            done = trainer.deactivate(sentiment.model_dir, language)
            click.echo(f"{language}: {'back to the shipped model' if done else 'already shipped'}")
        return
    with open_store(settings.database_path()) as store:
        by_language = _corrections_by_language(store.corrected_mentions())
    minimum = min_corrections or sentiment.calibration_min_corrections
    for language in wanted or [lang for lang in trainer.languages if lang in by_language]:
        rows = by_language.get(language, [])
        if len(rows) < minimum:
            click.echo(
                f"{language}: {len(rows)} corrected mentions, needs {minimum}: not retrained"
            )
            continue
        request = RetrainRequest(language, rows, sentiment.model_dir, sentiment, data_dir, limit)
        try:
            report = trainer.retrain(request)
        except KuuloError as exc:
            raise click.ClickException(str(exc)) from None
        for line in retrain_lines(report):
            click.echo(line)
        _activate(trainer, sentiment, report, force=force, skip=no_activate)
    if not by_language and not wanted:
        click.echo("no corrected mentions yet: correct sentiment in the dashboard inbox first")


def _activate(trainer: Trainer, sentiment: SentimentSettings, report: RetrainReport, *,
              force: bool, skip: bool) -> None:  # fmt: skip
    reasons = worse_reasons(report)
    for reason in reasons:
        click.echo(f"  worse: {reason}")
    if skip:
        click.echo("  not activated (--no-activate)")
        return
    if reasons and not force:
        click.echo("  not activated: it measures worse (--force activates it anyway)")
        return
    trainer.activate(sentiment.model_dir, report.language, report.name)
    click.echo(
        f"  activated in {sentiment.model_dir / 'active.json'}: restart kuulo, then "
        "`kuulo rescore`; brand thresholds of this language are refitted on the new model"
    )


def _corrections_by_language(rows: list[CorrectedMention]) -> dict[str, list[LabelledText]]:
    """One row per mention (the store gives one per mention and brand), by language."""
    seen: set[str] = set()
    found: dict[str, list[LabelledText]] = {}
    for row in rows:
        if row.mention_id in seen or not row.language_key:
            continue
        seen.add(row.mention_id)
        found.setdefault(row.language_key, []).append(
            LabelledText(row.text, row.label, row.language_key)
        )
    return found


def _trainer(settings: SentimentSettings) -> Trainer:
    try:
        cls = registry.load(registry.TRAINERS, settings.scorer)
    except KuuloError:
        raise click.ClickException(
            f"scorer {settings.scorer!r} cannot be retrained (trainers: "
            f"{', '.join(registry.available(registry.TRAINERS)) or 'none'})"
        ) from None
    trainer: Trainer = cls()
    return trainer


def _forget(settings: Settings, brand: str | None, language: str | None) -> None:
    if not brand:
        raise click.UsageError("--forget needs --brand")
    with open_store(settings.database_path()) as store:
        reset = store.forget_brand_threshold(brand, language)
    which = brand if language is None else f"{brand} ({language_name(language)})"
    if reset is None:
        raise click.ClickException(f"{which}: not calibrated")
    dropped = "thresholds dropped" if language is None else "threshold dropped"
    click.echo(f"{which}: {dropped}; {reset} mentions will be re-scored by the next run")


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
