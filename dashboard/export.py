"""Export: the inbox's filters, downloaded as CSV, JSON Lines or Parquet (README schema).

Large exports are written in batches to a private temporary file (the store's streaming rows
through ``kuulo.export``'s writers, Parquet in row groups), never built as one string or
DataFrame. Streamlit serves a download from memory (its media file store keeps the bytes
while the session lives), so the file is read back once, as the only copy, and only when
the button is pressed (``data=callable``). Past ``[dashboard] export_max_rows`` the page
offers the ``kuulo export`` command instead, which streams to disk.
"""

from __future__ import annotations

import io
import os
import shlex
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.common import database, mention_filters, reader, settings
from kuulo.export import write
from kuulo.store.inbox import InboxFilter
from kuulo.store.queries import EXPORT_COLUMNS

FORMATS = {
    "CSV": ("csv", "text/csv"),
    "JSON Lines": ("jsonl", "application/x-ndjson"),
    "Parquet": ("parquet", "application/vnd.apache.parquet"),
}
SAMPLE_ROWS = 500
PREVIEW_ROWS = 5
PREVIEW_COLUMNS = ("published_at", "author", "title", "text", "sentiment", "source_name", "url")


def write_export(rows: Iterator[dict[str, Any]], fmt: str, target: Path) -> int:
    """Write ``rows`` to the file ``target`` in ``fmt``, batch by batch; returns the row count."""
    with target.open("wb") as out:
        return write(rows, fmt, out)


@contextmanager
def spooled(path: str, f: InboxFilter, fmt: str) -> Iterator[Path]:
    """The export written to a private temporary file (mode 0600), removed afterwards."""
    handle, name = tempfile.mkstemp(prefix="kuulo-export-", suffix=f".{fmt}")
    os.close(handle)
    target = Path(name)
    try:
        with reader(path) as store:
            write_export(store.inbox_export_rows(f), fmt, target)
        yield target
    finally:
        target.unlink(missing_ok=True)


def export_bytes(path: str, f: InboxFilter, fmt: str) -> bytes:
    """The whole file: spooled to disk, then read back once (the copy Streamlit serves)."""
    with spooled(path, f, fmt) as target:
        return target.read_bytes()


def deferred(path: str, f: InboxFilter, fmt: str) -> Callable[[], bytes]:
    """What the button runs when pressed, on Streamlit's download thread (not on each rerun)."""
    return lambda: export_bytes(path, f, fmt)


@st.cache_data(ttl=15, show_spinner=False)
def count(path: str, f: InboxFilter) -> int:
    with reader(path) as store:
        return store.count_inbox(f)


@st.cache_data(ttl=60, show_spinner=False)
def estimated_size(path: str, f: InboxFilter, fmt: str, rows: int) -> int:
    """Bytes, extrapolated from the first ``SAMPLE_ROWS`` rows written in ``fmt``."""
    with reader(path) as store:
        sample = list(islice(store.inbox_export_rows(f), SAMPLE_ROWS))
    if not sample:
        return 0
    written = io.BytesIO()
    write(sample, fmt, written)
    return round(len(written.getvalue()) / len(sample) * rows)


@st.cache_data(ttl=15, show_spinner=False)
def preview(path: str, f: InboxFilter) -> pd.DataFrame:
    """The first rows' main columns, as exported (shown in escaped dataframe cells)."""
    with reader(path) as store:
        rows = list(islice(store.inbox_export_rows(f), PREVIEW_ROWS))
    return pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))[list(PREVIEW_COLUMNS)]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def cli_command(f: InboxFilter, fmt: str, config: Path | None) -> tuple[str, list[str]]:
    """The ``kuulo export`` command for these filters, and the filters it cannot express."""
    m = f.mentions
    args = ["kuulo"] + (["--config", str(config)] if config else []) + ["export"]
    args += ["--format", fmt]
    for flag, values in (("--brand", m.brands), ("--source", m.sources)):
        for value in values:
            args += [flag, value]
    for label in m.sentiments:
        args += ["--sentiment", label]
    for flag, moment in (("--since", m.since), ("--until", m.until)):
        if moment is not None:
            args += [flag, moment.strftime("%Y-%m-%dT%H:%M:%S")]
    args += ["-o", f"kuulo-mentions.{fmt}"]
    missing = [
        name
        for name, used in (
            ("language", m.languages),
            ("search text", m.search),
            ("status", f.statuses),
            ("rating", f.min_rating is not None or f.max_rating is not None),
        )
        if used
    ]
    return shlex.join(args), missing


def too_large(f: InboxFilter, fmt: str, matching: int, limit: int) -> None:
    command, missing = cli_command(f, fmt, settings().config_path)
    st.warning(
        f"{matching:,} mentions is more than the dashboard serves as a download "
        f"([dashboard] export_max_rows = {limit:,}). Narrow the filters, or export on the "
        "server, which streams to disk:"
    )
    st.code(command, language="bash")
    if missing:
        st.caption(f"`kuulo export` has no filter for: {', '.join(missing)}.")


def page() -> None:
    st.title("Export")
    path = database()
    f = mention_filters(path, key="export", statuses=())
    matching = count(path, f)
    choice = st.radio("Format", list(FORMATS), horizontal=True, key="export-format")
    fmt, mime = FORMATS[choice]
    size = estimated_size(path, f, fmt, matching) if matching else 0
    first, second = st.columns(2)
    first.metric("Matching mentions", f"{matching:,}")
    second.metric("Estimated size", f"≈ {human_size(size)}" if matching else "n/a")
    st.caption(
        f"Columns: {', '.join(EXPORT_COLUMNS)}. Oldest first. CSV cells that start "
        "with = + - @ are prefixed with ' so spreadsheets do not run them."
    )
    if matching == 0:
        st.info("Nothing to export with these filters.")
        return
    limit = settings().dashboard.export_max_rows
    if matching > limit:
        too_large(f, fmt, matching, limit)
    else:
        stamp = (f.mentions.since.date().isoformat() + "_") if f.mentions.since else ""
        st.download_button(
            f"Download {matching:,} mentions ({choice})",
            data=deferred(path, f, fmt),
            file_name=f"kuulo-mentions_{stamp}export.{fmt}",
            mime=mime,
            on_click="ignore",
            type="primary",
            key="export-download",
        )
    st.subheader("Preview")
    st.caption(f"The first {PREVIEW_ROWS} rows of the file, main columns only.")
    st.dataframe(preview(path, f), hide_index=True, width="stretch")
