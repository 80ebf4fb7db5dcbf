"""Reading import files: the format, the text lines, CSV and JSON Lines records, and which
column holds each mention field.

Part of ``kuulo import`` (:mod:`kuulo.importer` runs the import). A record that cannot be read
is yielded as the reason why, with its row number, so that only its row is skipped; a file that
cannot be read at all raises :class:`ImportFailure`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from kuulo.errors import KuuloError

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
