"""Export mentions as CSV, JSON Lines or Parquet, streamed (constant memory).

The columns are :data:`kuulo.store.queries.EXPORT_COLUMNS`, documented in the README; new
columns are only ever appended.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any, Literal

from kuulo.store.queries import EXPORT_COLUMNS

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Stop spreadsheets from running a text cell as a formula (OWASP ASVS 1.2.10)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([neutralise_cell(row[c]) for c in EXPORT_COLUMNS])
        count += 1
    return count


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps({c: row[c] for c in EXPORT_COLUMNS}, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_parquet(rows: Iterable[dict[str, Any]], out: IO[bytes], batch: int = 5000) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = _arrow_types()
    schema = pa.schema([(c, types.get(c, pa.string())) for c in EXPORT_COLUMNS])
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        for chunk in _chunks(iter(rows), batch):
            columns = {c: [r[c] for r in chunk] for c in EXPORT_COLUMNS}
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            count += len(chunk)
    return count


def write(rows: Iterable[dict[str, Any]], fmt: str, out: IO[bytes]) -> int:
    """``rows`` in ``fmt`` to a binary stream (CSV and JSON Lines as UTF-8); returns the row
    count. ``out`` stays open: the CLI writes to stdout or a file, the dashboard to a spool."""
    if fmt == "parquet":
        return write_parquet(rows, out)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        return (write_csv if fmt == "csv" else write_jsonl)(rows, text)
    finally:
        text.detach()  # flushes, and leaves ``out`` to its owner


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    ints = ("author_followers", "likes", "replies", "reposts", "quotes", "version")
    return {
        **dict.fromkeys(ints, pa.int64()),
        "sentiment_score": pa.float64(),
        "rating": pa.float64(),
        "sentiment_confidence": pa.float64(),
    }
