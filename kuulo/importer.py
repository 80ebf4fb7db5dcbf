"""``kuulo import``: mentions from CSV or JSON Lines exports (Facebook, TripAdvisor, Google).

Channels without a usable API still export files. Rows go through the same path as collected
items (:func:`kuulo.normalise.prepare` -> match -> upsert -> score), under a source name given
on the command line, so the natural key is ``NAME:native_id`` and importing a file twice is
idempotent. Files are streamed and stored 500 rows per transaction, so memory stays flat however
big the export. A row that cannot be read is skipped with its row number and a reason; it never
costs the rest of the file. Row numbers are what a spreadsheet shows (CSV: the header is row 1)
or the line number (JSON Lines).

This module runs the import; files are read by :mod:`kuulo.import_readers` and values (dates,
ratings, counts) by :mod:`kuulo.import_values`.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kuulo import registry
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.import_readers import (
    Columns,
    ImportFailure,
    detect_format,
    read_csv,
    read_jsonl,
    text_lines,
)
from kuulo.import_values import RowError, parse_count, parse_date, parse_rating
from kuulo.matching import Brand
from kuulo.model import Mention
from kuulo.normalise import Prepared, clean_text, prepare
from kuulo.pipeline import NO_BRAND, score_pending
from kuulo.protocols import Scorer
from kuulo.settings import Settings
from kuulo.store import RunOutcome, Store, open_store

KIND = "import"
BATCH_ROWS = 500
KEEP_MESSAGES = 100  # per-row messages kept for the summary; the rest are only counted
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ImportUsageError(KuuloError):
    """The command line asks for something impossible (unknown brand, field or source name)."""


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    source_name: str
    fmt: str | None = None  # "csv" | "jsonl"; None: from the suffix, else the first byte
    brands: tuple[str, ...] = ()  # link every row to these, without keyword matching
    columns: Mapping[str, str] = field(default_factory=dict)  # field -> column (or a.b path)


@dataclass
class ImportReport:
    """What an import did: the run log's counts, plus per-row messages for the operator.

    ``skipped`` rows were not stored; ``notes`` rows were stored with a caveat.
    """

    outcome: RunOutcome = field(default_factory=RunOutcome)
    rows: int = 0
    last_row: int = 0
    skipped: list[str] = field(default_factory=list)  # the first KEEP_MESSAGES
    notes: list[str] = field(default_factory=list)
    skipped_total: int = 0
    notes_total: int = 0
    scored: int = 0

    @property
    def imported(self) -> int:
        return self.outcome.new + self.outcome.updated + self.outcome.unchanged

    def skip(self, row: int, error: RowError) -> None:
        self.skipped_total += 1
        self.outcome.skip_reasons.append(error.kind)
        if len(self.skipped) < KEEP_MESSAGES:
            self.skipped.append(f"row {row}: {error.reason}")

    def note(self, row: int, text: str) -> None:
        self.notes_total += 1
        if len(self.notes) < KEEP_MESSAGES:
            self.notes.append(f"row {row}: {text}")


# -- mapping a row ------------------------------------------------------------------------------


def _lookup(record: Mapping[str, Any], key: str) -> Any:
    """``record[key]``, or a dotted path into nested objects (``user.username``)."""
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    """Optional text: scalars as text, NUL removed, lone surrogates made U+FFFD; objects: None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return clean_text(str(value)).replace("\x00", "").strip() or None


def _native_id(value: Any, content: Sequence[object]) -> str:
    """The row's id as exact text; a float id has lost digits already, so it is refused.
    Without an id column: a stable hash of the mapped content (same row, same id)."""
    if isinstance(value, float):
        raise RowError(f"id {value!r} is a floating-point number; write ids as text", "float id")
    if text := _text(value):
        return text
    payload = "\x1f".join("" if v is None else str(v) for v in content)
    return "sha256:" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _language(value: Any) -> str | None:
    primary = re.split(r"[-_]", _text(value) or "", maxsplit=1)[0]
    return primary.lower() if len(primary) == 2 and primary.isascii() else None


def map_record(
    record: Mapping[str, Any], keys: Mapping[str, str], row: int, request: ImportRequest,
    now: datetime, report: ImportReport,
) -> Mention:  # fmt: skip
    """A Mention for one row; raises RowError with the reason to skip it."""
    raw = {name: _lookup(record, key) for name, key in keys.items()}
    if isinstance(raw.get("text"), Mapping | list):
        raise RowError(f"text is not a string ({type(raw['text']).__name__})", "text not a string")
    text = _text(raw.get("text"))
    if not text:
        raise RowError("empty text")
    published, note = parse_date(raw.get("published_at"), now)
    if note:
        report.note(row, note)
    title, author, url = _text(raw.get("title")), _text(raw.get("author")), _text(raw.get("url"))
    content = (text, title, author, raw.get("published_at"), url, raw.get("rating"))
    return Mention(
        source=KIND,
        source_name=request.source_name,
        native_id=_native_id(raw.get("id"), content),
        url=url if url and re.match(r"https?://", url, re.IGNORECASE) else "",
        text=text,
        title=title,
        published_at=published,
        author_name=author,
        author_handle=_text(raw.get("author_handle")),
        language=_language(raw.get("language")),
        likes=parse_count(raw.get("likes"), "likes"),
        replies=parse_count(raw.get("replies"), "replies"),
        rating=parse_rating(raw.get("rating")),
        raw={"file": request.path.name, "row": row},
    )


# -- the import ---------------------------------------------------------------------------------


def run_import(
    settings: Settings,
    request: ImportRequest,
    *,
    clock: Callable[[], datetime] = utcnow,
    scorer: Scorer | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the file, log it as a run of source ``request.source_name``, then score.

    ``progress`` gets the number of bytes read so far. Raises ImportUsageError before touching
    the database, and ImportFailure (after logging the failed run) when the file turns out
    unreadable part-way; rows stored before that stay stored, and re-importing is idempotent.
    """
    brands, owned = _brands(settings, request.brands)
    _check_source_name(settings, request.source_name)
    fmt = detect_format(request.path, request.fmt)
    report = ImportReport()
    with open_store(settings.database_path()) as store:
        _register(store, request.source_name, clock())
        run_id = store.start_run(request.source_name, clock())
        try:
            _import_rows(store, request, fmt, (brands, owned), clock, report, progress)
        except (ImportFailure, UnicodeError, csv.Error, OSError, KuuloError) as exc:
            message = _failure(exc, report)
            report.outcome.status, report.outcome.error = "error", message
            _finish(store, run_id, request.source_name, report, clock())
            raise ImportFailure(message) from None
        _finish(store, run_id, request.source_name, report, clock())
        scorer = scorer or registry.load(registry.SCORERS, settings.sentiment.scorer)(
            settings.sentiment
        )
        report.scored = score_pending(store, scorer, settings.sentiment.batch_size, clock)
    return report


def _brands(settings: Settings, wanted: Sequence[str]) -> tuple[list[Brand], tuple[str, ...]]:
    """``--brand``: those brands, linked to every row (like an owned source); else all
    configured brands, matched by their queries."""
    every = settings.brand_objects()
    known = [b.name for b in every]
    if unknown := [name for name in wanted if name not in known]:
        raise ImportUsageError(
            f"--brand {unknown[0]!r}: no [[brands]] entry with that name"
            f" (known: {', '.join(known) or 'none'})"
        )
    if wanted:
        chosen = [b for b in every if b.name in wanted]
        return chosen, tuple(b.name for b in chosen)
    if not every:
        raise ImportUsageError("no [[brands]] configured: pass --brand or add brands to match")
    return every, ()


def _check_source_name(settings: Settings, name: str) -> None:
    if not SOURCE_NAME.match(name):
        raise ImportUsageError(
            f"--source {name!r}: use letters, digits, '.', '_' or '-' (e.g. google-reviews)"
        )
    if name in {s.name for s in settings.sources}:
        raise ImportUsageError(
            f"--source {name!r} is a configured [[sources]] entry; imported rows need a name of"
            f" their own (e.g. {name}-import)"
        )


def _register(store: Store, name: str, now: datetime) -> None:
    """Register the import source; never take over a collector's source row.

    The scheduler only collects names present in the configuration, so an ``import`` row is
    never polled even though it looks due.
    """
    state = store.source_state(name)
    if state is not None and state.kind != KIND:
        raise ImportUsageError(
            f"--source {name!r} already holds mentions collected by a {state.kind!r} source"
        )
    store.sync_sources([(name, KIND)], now)


def _import_rows(
    store: Store,
    request: ImportRequest,
    fmt: str,
    brands: tuple[list[Brand], tuple[str, ...]],
    clock: Callable[[], datetime],
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> None:
    pending: list[Prepared] = []
    with request.path.open("rb") as binary:
        lines = text_lines(binary)
        for row, record, keys in _records(lines, fmt, Columns(request.columns)):
            report.rows, report.last_row = report.rows + 1, row
            if prepared := _prepare_row(row, record, keys, request, brands, clock(), report):
                pending.append(prepared)
            if len(pending) >= BATCH_ROWS:
                _store(store, request.source_name, pending, clock(), report)
                if progress:
                    progress(binary.tell())
        _store(store, request.source_name, pending, clock(), report)
        if progress:
            progress(binary.tell())


def _records(
    lines: Iterator[str], fmt: str, columns: Columns
) -> Iterator[tuple[int, Mapping[str, Any] | str, Mapping[str, str]]]:
    """Rows with the field -> key mapping that applies to each."""
    if fmt == "csv":
        header, rows = read_csv(lines)
        columns.check_header(header)
        keys = columns.resolve(header)
        for row, record in rows:
            yield row, record, keys
        return
    for row, record in read_jsonl(lines):
        yield row, record, columns.resolve(list(record) if isinstance(record, Mapping) else [])


def _prepare_row(
    row: int,
    record: Mapping[str, Any] | str,
    keys: Mapping[str, str],
    request: ImportRequest,
    brands: tuple[list[Brand], tuple[str, ...]],
    now: datetime,
    report: ImportReport,
) -> Prepared | None:
    try:
        if isinstance(record, str):
            raise RowError(record, record.split(" (")[0])  # a reading problem
        if "text" not in keys:
            raise RowError("no text field")
        mention = map_record(record, keys, row, request, now, report)
        prepared = prepare(mention, *brands)
        if not prepared.brands:
            raise RowError(NO_BRAND)
    except RowError as exc:
        report.skip(row, exc)
        return None
    return prepared


def _store(
    store: Store, name: str, pending: list[Prepared], now: datetime, report: ImportReport
) -> None:
    """One transaction per batch; the cursor is left alone (an import has none)."""
    if pending:
        report.outcome.add(store.save_batch(name, pending, None, now))
        pending.clear()


def _finish(store: Store, run_id: int, name: str, report: ImportReport, now: datetime) -> None:
    report.outcome.fetched = report.rows
    store.finish_run(run_id, name, report.outcome, now=now, next_due=now)


def _failure(exc: BaseException, report: ImportReport) -> str:
    where = f"after row {report.last_row}" if report.last_row else "before the first row"
    if isinstance(exc, UnicodeError):  # only UTF-16 is decoded as a whole
        return f"cannot decode the file {where}; save it as UTF-8 and import again"
    if isinstance(exc, csv.Error):
        return f"CSV error {where}: {exc}"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or exc}"
    return str(exc)
