"""``kuulo import``: mentions from CSV or JSON Lines exports (Facebook, TripAdvisor, Google).

Channels without a usable API still export files. Rows go through the same path as collected
items (:func:`kuulo.normalise.prepare` -> match -> upsert -> score), under a source name given
on the command line, so the natural key is ``NAME:native_id`` and importing a file twice is
idempotent. Files are streamed and stored 500 rows per transaction, so memory stays flat however
big the export. A row that cannot be read is skipped with its row number and a reason; it never
costs the rest of the file. Row numbers are what a spreadsheet shows (CSV: the header is row 1)
or the line number (JSON Lines).
"""

from __future__ import annotations

import codecs
import csv
import email.utils
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from kuulo import registry
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
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
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "review", "review_text", "comment", "comment_text", "message", "body",
             "content"),
    "id": ("id", "review_id", "native_id", "message_id", "post_id", "comment_id"),
    "url": ("url", "link", "permalink", "review_url", "review_link"),
    "title": ("title", "subject", "headline", "review_title"),
    "author": ("author", "author_name", "reviewer", "reviewer_name", "user_name", "username",
               "display_name"),
    "author_handle": ("author_handle", "handle", "screen_name"),
    "published_at": ("published_at", "date", "created_at", "created_time", "published",
                     "published_date", "review_date", "timestamp", "time", "datetime"),
    "rating": ("rating", "stars", "star_rating", "review_rating", "score"),
    "language": ("language", "lang", "locale"),
    "likes": ("likes", "like_count", "reactions", "helpful", "helpful_votes", "thumbs_up"),
    "replies": ("replies", "reply_count", "comment_count", "comments_count"),
}  # fmt: skip
"""Mention field -> column names tried when none is mapped (compared after :func:`column_key`)."""
FIELDS = tuple(DEFAULT_COLUMNS)


class ImportFailure(KuuloError):
    """The file cannot be imported at all (unreadable, not UTF-8, no text column)."""


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


def column_key(name: str) -> str:
    """``"Review Text"``, ``"review-text"`` and ``"reviewText"`` all become ``review_text``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip().lstrip("\ufeff"))
    return re.sub(r"[^0-9a-z]+", "_", spaced.casefold()).strip("_")


# -- reading ------------------------------------------------------------------------------------

Record = tuple[int, Mapping[str, Any] | str]  # row number, then the record or why it is unusable


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(64).lstrip(codecs.BOM_UTF8).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a bad byte
NOT_UTF8 = "not valid UTF-8 (save the file as UTF-8)"


def text_lines(binary: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one line at a time.

    UTF-8 (a BOM is dropped). A byte that is not UTF-8 is kept as a lone surrogate
    (``surrogateescape``) so that only its row is skipped, not the rest of the file. UTF-16
    (Excel's "Unicode text") is recognised by its BOM and decoded as a whole.
    """
    head = binary.peek(4)[:4] if isinstance(binary, io.BufferedReader) else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield from io.TextIOWrapper(binary, encoding="utf-16", newline="")
        return
    for number, line in enumerate(binary):
        raw = line.removeprefix(codecs.BOM_UTF8) if number == 0 else line
        yield raw.decode("utf-8", "surrogateescape")


def _delimiter(header: str) -> str:
    """The delimiter that splits the header line most; a header rarely holds a stray one,
    whereas data rows do ("4,5" stars in a semicolon file fools csv.Sniffer)."""
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(lines: Iterator[str]) -> tuple[list[str], Iterator[Record]]:
    """The header and a stream of rows (as header -> value) from a CSV file's lines."""
    first = next(lines, "")
    delimiter = _delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter), [])
    if not any(h.strip() for h in header):
        raise ImportFailure("the CSV file has no header row")
    rows = csv.reader(lines, delimiter=delimiter)

    def records() -> Iterator[Record]:
        for number, row in enumerate(rows, start=2):
            if any(_UNDECODABLE.search(cell) for cell in row):
                yield number, NOT_UTF8
            elif any(cell.strip() for cell in row):
                yield number, dict(zip(header, row, strict=False))

    return header, records()


def read_jsonl(lines: Iterator[str]) -> Iterator[Record]:
    """Objects, one per line; a bad line is reported, never the end of the file."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == 1 and line.lstrip().startswith("["):
            raise ImportFailure("this is a JSON array, not JSON Lines (one object per line)")
        if _UNDECODABLE.search(line):
            yield number, NOT_UTF8
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield number, f"invalid JSON ({getattr(exc, 'msg', type(exc).__name__)})"
            continue
        yield number, value if isinstance(value, dict) else "not a JSON object"


class Columns:
    """Which key holds each field: mapped columns first, then the default names."""

    def __init__(self, explicit: Mapping[str, str]) -> None:
        self.explicit = dict(explicit)
        self._cache: dict[tuple[str, ...], dict[str, str]] = {}  # bounded: see resolve

    def resolve(self, keys: Sequence[str]) -> dict[str, str]:
        """field -> key among ``keys`` (cached per key set: JSON Lines rows repeat theirs)."""
        cache_key = tuple(keys)
        if (found := self._cache.get(cache_key)) is None:
            by_norm = {column_key(k): k for k in reversed(keys)}
            found = {}
            for name, candidates in DEFAULT_COLUMNS.items():
                if name in self.explicit:
                    want = self.explicit[name]
                    found[name] = want if want in keys else by_norm.get(column_key(want), want)
                elif hit := next((by_norm[c] for c in candidates if c in by_norm), None):
                    found[name] = hit
            if len(self._cache) >= 256:  # rows with ever-new keys must not grow memory
                self._cache.clear()
            self._cache[cache_key] = found
        return found

    def check_header(self, header: Sequence[str]) -> None:
        found = self.resolve(header)
        missing = [c for f, c in self.explicit.items() if found.get(f) not in header]
        listed = ", ".join(h for h in header if h)
        if missing:
            raise ImportFailure(f"column {missing[0]!r} not found (columns: {listed})")
        if "text" not in found:
            raise ImportFailure(
                f"no text column: map one with --column text=COLUMN (columns: {listed})"
            )


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


# -- values -------------------------------------------------------------------------------------

MAX_FUTURE = timedelta(days=1)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_SCALED = re.compile(rf"{_NUMBER}\s*(?:/|out of|of)\s*{_NUMBER}", re.IGNORECASE)
_PLAIN = re.compile(rf"{_NUMBER}\s*(?:stars?)?", re.IGNORECASE)
_STARS = frozenset("★☆⭐✩✭")
_DMY = re.compile(
    r"(\d{1,2})([./])(\d{1,2})\2(\d{4})(?:[ T,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
)
_NAMED_FORMATS = (
    "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y %I:%M %p", "%B %d, %Y %I:%M %p",
    "%d %b %Y %H:%M", "%d %B %Y %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
)  # fmt: skip


class RowError(ValueError):
    """Why a row is skipped; ``kind`` is the value-free reason kept in the run log."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind or reason


def parse_date(value: object, now: datetime) -> tuple[datetime | None, str | None]:
    """UTC time (naive means UTC) and a note; RowError when present but unreadable.

    ISO 8601 first, then epoch seconds/milliseconds, ``20.11.2026 14:03``, ``11/20/2026``
    (refused when day and month could be swapped), RFC 2822 and ``Nov 20, 2026``. A date more
    than a day ahead is an exporter's error: the row is kept without a date, with a note.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    when = _to_datetime(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > now + MAX_FUTURE:
        return None, f"date {value!r} is in the future; stored without a date"
    return when, None


def _to_datetime(value: object) -> datetime:
    bad = RowError(f"unparsable date {value!r}", "unparsable date")
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        if not isinstance(value, str):
            raise bad
        text = value.strip()
        if text.isdigit() and len(text) in (10, 13):
            return datetime.fromtimestamp(int(text) / (1000 if len(text) == 13 else 1), UTC)
        for attempt in (datetime.fromisoformat, _day_month, email.utils.parsedate_to_datetime):
            try:
                return attempt(text)
            except RowError:
                raise  # ambiguous: a reason of its own
            except (ValueError, TypeError, IndexError):
                continue
        for fmt in _NAMED_FORMATS:
            try:
                return datetime.strptime(text, fmt)  # noqa: DTZ007  (naive is UTC, see caller)
            except ValueError:
                continue
    except RowError:
        raise
    except (OverflowError, OSError, ValueError):
        raise bad from None
    raise bad


def _day_month(text: str) -> datetime:
    """``20.11.2026`` (always day first) or ``20/11/2026`` / ``11/20/2026`` (whichever is valid)."""
    m = _DMY.fullmatch(text)
    if not m:
        raise ValueError(text)
    a, sep, b, year = int(m[1]), m[2], int(m[3]), int(m[4])
    if sep == "/" and a <= 12 and b <= 12 and a != b:
        raise RowError(
            f"ambiguous date {text!r} (day/month or month/day?): use ISO 8601, e.g. "
            f"{year}-{b:02d}-{a:02d}",
            "ambiguous date",
        )
    day, month = (b, a) if sep == "/" and b > 12 else (a, b)
    hour, minute, second = (int(m[i] or 0) for i in (5, 6, 7))
    return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001  (UTC, see caller)


def parse_rating(value: object) -> float | None:
    """Stars as a number: ``4``, ``4,5``, ``"4/5"`` and ``8/10`` (scaled to 5), ``★★★★☆``."""
    bad = RowError(f"rating {value!r} is not a number", "rating is not a number")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        rating = float(value)
    elif isinstance(value, str):
        text = value.strip()
        compact = text.replace(" ", "")
        if set(compact) <= _STARS:
            return float(sum(c in "★⭐✭" for c in compact))
        if m := _SCALED.fullmatch(text):
            top, scale = (float(g.replace(",", ".")) for g in m.groups())
            rating = top / scale * 5 if scale else math.nan
        elif m := _PLAIN.fullmatch(text):
            rating = float(m[1].replace(",", "."))
        else:
            raise bad
    else:
        raise bad
    if not math.isfinite(rating) or rating < 0:
        raise bad
    return rating


def parse_count(value: object, name: str) -> int | None:
    """A non-negative whole number; ``"1,234"`` and ``"1 234"`` are accepted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        digits = re.sub(r"[\s,'\u00a0\u202f]", "", value)
        if digits.isdigit():
            return int(digits)
    raise RowError(f"{name} {value!r} is not a whole number", f"{name} is not a whole number")


# -- mapping a row ------------------------------------------------------------------------------


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
