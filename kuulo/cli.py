"""The ``kuulo`` command: one click group, ``--help`` on every command."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import click

from kuulo import export as exporting
from kuulo import service
from kuulo.catalog import load_merged
from kuulo.cli_alerts import alerts_group
from kuulo.cli_import import import_cmd
from kuulo.cli_sentiment import sentiment_group
from kuulo.cli_users import users_group
from kuulo.errors import ConfigError, KuuloError
from kuulo.model import ScoreInput
from kuulo.normalise import detect_language
from kuulo.pipeline import make_scorer
from kuulo.settings import SentimentSettings, Settings, load_settings, resolve_config_path
from kuulo.store import MentionFilter, open_store
from kuulo.store.catalog import KINDS


class _State:
    def __init__(self, config: str | None, log_level: str | None) -> None:
        self.config = config
        self.log_level = log_level
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            if self.log_level is None:
                logging.getLogger().setLevel(self._settings.kuulo.log_level)
        return self._settings


class _Failure(click.ClickException):
    """A kuulo error shown as one clear message (exit 1)."""

    exit_code = 1


class _ConfigFailure(_Failure):
    """A configuration problem (exit 2, like a usage error)."""

    exit_code = 2


class _KuuloGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise _ConfigFailure(str(exc)) from None
        except KuuloError as exc:
            raise _Failure(str(exc)) from None


@click.group(cls=_KuuloGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $KUULO_CONFIG, else config/kuulo.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Override [kuulo] log_level.",
)
@click.version_option(package_name="kuulo")
@click.pass_context
def cli(ctx: click.Context, config: str | None, log_level: str | None) -> None:
    """kuulo: social media listening and reputation monitoring."""
    ctx.obj = _State(config, log_level)
    logging.basicConfig(
        level=(log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick otherwise


def _settings(ctx: click.Context) -> Settings:
    state: _State = ctx.obj
    return state.settings


@cli.command()
@click.option("--once", is_flag=True, help="Run one full tick (collect due sources, score), exit.")
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard alongside.")
@click.pass_context
def run(ctx: click.Context, once: bool, no_dashboard: bool) -> None:
    """Collect on schedule, score, and serve the dashboard until stopped (Ctrl-C / SIGTERM)."""
    settings = _settings(ctx)
    if once:
        service.run_once(settings)
        return
    service.run_forever(settings, dashboard=not no_dashboard)


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--once", is_flag=True, default=True, help="Collect once and exit (the default).")
@click.option("--score/--no-score", default=True, help="Score what was collected (default on).")
@click.pass_context
def collect(ctx: click.Context, sources: tuple[str, ...], once: bool, score: bool) -> None:
    """Collect SOURCES now (default: every due source), then exit. Cron-friendly."""
    settings = _settings(ctx)
    known = {s.name for s in load_merged(settings)[0].sources}
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise click.BadParameter(
            f"no source named {', '.join(unknown)} (configured: {', '.join(sorted(known))})",
            param_hint="SOURCES",
        )
    service.collect(settings, list(sources) or None, score=score, progress=_progress_bar)


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Re-score every mention, not only stale.")
@click.pass_context
def rescore(ctx: click.Context, everything: bool) -> None:
    """Score again mentions scored by another scorer or version (after a scorer change)."""
    total = service.rescore(_settings(ctx), everything=everything, progress=_progress_bar)
    click.echo(f"re-scored {total} mentions", err=True)


@cli.command()
@click.option("--scorer", "scorer_name", help="A registered scorer: default, vader, ...")
@click.pass_context
def score(ctx: click.Context, scorer_name: str | None) -> None:
    """Score texts from stdin: one per line, or JSON Lines with a "text" field (and optional
    "language" and "rating"); the language is detected when not given.

    Writes one JSON object per line: {"label", "score", "model", "confidence", "reason"}.
    """
    sentiment = _score_settings(ctx)
    if scorer_name:
        sentiment = sentiment.model_copy(update={"scorer": scorer_name})
    scorer = make_scorer(sentiment)
    for chunk in _stdin_chunks(sys.stdin, 500):
        for result in scorer.score(chunk):
            out = {"label": result.label, "score": result.score, "model": result.model}
            out |= {"confidence": result.confidence, "reason": result.reason}
            click.echo(json.dumps(out, ensure_ascii=False))


def _score_settings(ctx: click.Context) -> SentimentSettings:
    state: _State = ctx.obj
    if state.config is None and not resolve_config_path(None).exists():
        return SentimentSettings()  # scoring needs no config file; the defaults do
    return state.settings.sentiment


def _stdin_chunks(stream: IO[str], size: int) -> Iterator[list[ScoreInput]]:
    chunk: list[ScoreInput] = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        chunk.append(_score_input(line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _score_input(line: str) -> ScoreInput:
    if line.lstrip().startswith("{"):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"invalid JSON on stdin: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise click.ClickException('JSON input lines need a string "text" field')
        language = data.get("language")
        rating = data.get("rating")
        return ScoreInput(
            data["text"],
            language if isinstance(language, str) else detect_language(data["text"]),
            float(rating) if isinstance(rating, int | float) else None,
        )
    return ScoreInput(line, detect_language(line))


@cli.command(name="export")
@click.option("--format", "fmt", type=click.Choice(exporting.FORMATS), default="csv")
@click.option("--brand", multiple=True, help="Only mentions of this brand (repeatable).")
@click.option("--source", multiple=True, help="Only this source name (repeatable).")
@click.option(
    "--sentiment",
    multiple=True,
    type=click.Choice(["negative", "neutral", "positive", "unscored"]),
    help="Only this label (repeatable).",
)
@click.option("--since", type=click.DateTime(), help="From this UTC date/time (inclusive).")
@click.option("--until", type=click.DateTime(), help="Up to this UTC date/time (exclusive).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.pass_context
def export_cmd(ctx: click.Context, /, fmt: str, output: str | None, **filters: Any) -> None:
    """Export mentions with the documented, stable column set (README: Export schema)."""
    settings = _settings(ctx)
    mf = MentionFilter(
        brands=filters["brand"],
        sources=filters["source"],
        sentiments=filters["sentiment"],
        since=_utc(filters["since"]),
        until=_utc(filters["until"]),
    )
    with open_store(settings.database_path(), read_only=True) as store:
        total = store.count_mentions(mf)
        rows = _with_progress(store.export_rows(mf), total, show=output is not None)
        count = _write_export(fmt, rows, output)
    click.echo(f"exported {count} mentions", err=True)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


def _write_export(fmt: str, rows: Iterator[dict[str, Any]], output: str | None) -> int:
    if output is None:
        return exporting.write(rows, fmt, sys.stdout.buffer)
    with open(output, "wb") as fh:
        return exporting.write(rows, fmt, fh)


def _with_progress(
    rows: Iterator[dict[str, Any]], total: int, show: bool
) -> Iterator[dict[str, Any]]:
    if not (show and sys.stderr.isatty()):
        yield from rows
        return
    with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
        for row in rows:
            bar.update(1)
            yield row


def _progress_bar(label: str, total: int) -> Any:
    """A click progress bar on a terminal; a silent one otherwise (cron, pipes, tests)."""
    if sys.stderr.isatty():
        return click.progressbar(length=total, label=label, file=sys.stderr)
    return service.SilentProgress()


@cli.command()
@click.option("--port", type=int, help="Port (default: [kuulo] dashboard_port, 8501).")
@click.pass_context
def dashboard(ctx: click.Context, port: int | None) -> None:
    """Serve the Streamlit dashboard (read-only) for the configured database."""
    settings = _settings(ctx)
    service.serve_dashboard(settings, port=port)


@cli.command()
@click.option("--port", type=int, default=0, help="Port for the sample feed server (0: any).")
@click.option("--once", is_flag=True, help="Collect and score once, print a summary, exit.")
def demo(port: int, once: bool) -> None:
    """Serve bundled sample feeds on loopback, collect them and open the dashboard. No internet."""
    from kuulo.demo.runner import run_demo

    run_demo(feed_port=port, once=once)


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Per source: last run, counts, last error, next due; and what is disabled and why."""
    settings = _settings(ctx)
    for line in service.status_lines(settings):
        click.echo(line)


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the settings file and the brands, sources and rules created in the dashboard;
    print every problem and exit non-zero if there is one."""
    settings = _settings(ctx)
    path = settings.config_path
    click.echo(f"{path}: OK ({len(settings.brands)} brands, {len(settings.sources)} sources)")
    merged, problems = load_merged(settings)
    if kept := sorted(merged.dashboard_items):
        counts = ", ".join(f"{n} {k}s" for k in KINDS if (n := sum(i[0] == k for i in kept)))
        click.echo(f"database: {counts} created in the dashboard")
    for source in merged.resolved_sources():
        if source.disabled_reason:
            click.echo(f"  source {source.name}: {source.disabled_reason}")
    if problems:
        head = f"{settings.database_path()}: items created in the dashboard that are left out"
        raise ConfigError("\n".join([head, *(f"  - {p}" for p in problems)]))


cli.add_command(import_cmd)
cli.add_command(alerts_group)
cli.add_command(sentiment_group)
cli.add_command(users_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kuulo`` script."""
    cli.main(args=argv, prog_name="kuulo")


if __name__ == "__main__":  # pragma: no cover
    main()
