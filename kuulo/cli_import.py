"""The ``kuulo import`` command: option parsing and the summary; the work is in
:mod:`kuulo.importer`.

Registered on the ``kuulo`` group with ``cli.add_command(import_cmd)``. This module does not
import :mod:`kuulo.cli`, so ``kuulo.cli`` can import it without a cycle.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import click

from kuulo.import_readers import DEFAULT_COLUMNS
from kuulo.importer import (
    ImportReport,
    ImportRequest,
    ImportUsageError,
    run_import,
)
from kuulo.settings import Settings

MAX_LISTED = 20


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


def parse_column_options(options: Sequence[str]) -> dict[str, str]:
    """``("text=Review", ...)`` -> ``{"text": "Review"}``."""
    mapping: dict[str, str] = {}
    for option in options:
        name, sep, column = option.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(
                f"{option!r}: write FIELD=COLUMN, e.g. text=Review", param_hint="--column"
            )
        mapping[_field_name(name, "--column")] = column.strip()
    return mapping


def load_mapping_file(path: Path) -> dict[str, str]:
    """A TOML file with one ``[columns]`` table: ``text = "Review"``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: cannot read it: {exc}", param_hint="--map") from None
    table = data.get("columns")
    if not isinstance(table, dict) or set(data) != {"columns"}:
        raise click.BadParameter(
            f'{path}: expected only a [columns] table, e.g. text = "Review"', param_hint="--map"
        )
    if bad := [k for k, v in table.items() if not isinstance(v, str) or not v.strip()]:
        raise click.BadParameter(
            f"{path}: [columns] {', '.join(bad)}: the column name must be text",
            param_hint="--map",
        )
    return {_field_name(k, "--map"): v.strip() for k, v in table.items()}


def _field_name(name: str, hint: str) -> str:
    key = name.strip()
    if key not in DEFAULT_COLUMNS:
        fields = ", ".join(DEFAULT_COLUMNS)
        raise click.BadParameter(f"unknown field {key!r} (fields: {fields})", param_hint=hint)
    return key


def summary_lines(report: ImportReport, limit: int = MAX_LISTED) -> list[str]:
    """``imported 120 (new 118, updated 2), skipped 3``, then the reasons, at most ``limit``
    of each kind (a 100,000-row file with a bad column must not flood the terminal)."""
    o = report.outcome
    unchanged = f", unchanged {o.unchanged}" if o.unchanged else ""
    lines = [
        f"imported {report.imported} (new {o.new}, updated {o.updated}{unchanged}),"
        f" skipped {report.skipped_total}"
    ]
    for heading, items, total in (
        ("", report.skipped, report.skipped_total),
        ("notes:", report.notes, report.notes_total),
    ):
        if items and heading:
            lines.append(heading)
        lines += [f"  {item}" for item in items[:limit]]
        if total > min(limit, len(items)):
            lines.append(f"  ... and {total - min(limit, len(items))} more")
    if report.scored:
        lines.append(f"scored {report.scored} mentions")
    return lines


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over the file's bytes on a terminal; nothing for cron, pipes and tests."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=path.stat().st_size, label="importing", file=sys.stderr) as bar:
        done = [0]

        def update(position: int) -> None:
            bar.update(max(position - done[0], 0))
            done[0] = max(position, done[0])

        yield update


_FIELDS_HELP = ", ".join(DEFAULT_COLUMNS)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source", "source", required=True, metavar="NAME", help="Source name for these rows."
)
@click.option(
    "--brand", "brands", multiple=True, metavar="BRAND", help="Link every row to it (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: from the suffix."
)
@click.option(
    "--map",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='TOML mapping file with a [columns] table: text = "Review".',
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="FIELD=COLUMN",
    help=f"Map a column (repeatable; wins over --map). Fields: {_FIELDS_HELP}.",
)
@click.pass_context
def import_cmd(
    ctx: click.Context,
    file: Path,
    source: str,
    brands: tuple[str, ...],
    fmt: str | None,
    mapping_file: Path | None,
    columns: tuple[str, ...],
) -> None:
    """Import mentions from a CSV or JSON Lines export (reviews, comments) as source NAME.

    Rows are stored as NAME:id, so importing the same file again updates instead of
    duplicating. Without --brand, rows are kept only when they match a brand query. Columns are
    found by common names (text/review/comment/message, date/published_at/created_at,
    rating/stars, ...) unless mapped with --column or --map.
    """
    mapping = load_mapping_file(mapping_file) if mapping_file else {}
    mapping |= parse_column_options(columns)
    state: _HasSettings = ctx.obj
    request = ImportRequest(file, source, fmt, brands, mapping)
    try:
        with _progress(file) as progress:
            report = run_import(state.settings, request, progress=progress)
    except ImportUsageError as exc:
        raise click.UsageError(str(exc), ctx) from None
    for line in summary_lines(report):
        click.echo(line)
