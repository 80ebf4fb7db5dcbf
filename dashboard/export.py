"""Export: the inbox's filters, downloaded as CSV, JSON Lines or Parquet (README schema)."""

from __future__ import annotations

import io

import streamlit as st

from dashboard.common import database, mention_filters, reader
from kuulo.export import write_csv, write_jsonl, write_parquet
from kuulo.store.inbox import InboxFilter
from kuulo.store.queries import EXPORT_COLUMNS

FORMATS = {
    "CSV": ("csv", "text/csv"),
    "JSON Lines": ("jsonl", "application/x-ndjson"),
    "Parquet": ("parquet", "application/vnd.apache.parquet"),
}


def export_bytes(path: str, f: InboxFilter, fmt: str) -> bytes:
    """The file, written from the store's streaming rows (never a DataFrame of everything)."""
    with reader(path) as store:
        rows = store.inbox_export_rows(f)
        if fmt == "parquet":
            binary = io.BytesIO()
            write_parquet(rows, binary)
            return binary.getvalue()
        text = io.StringIO()
        (write_csv if fmt == "csv" else write_jsonl)(rows, text)
        return text.getvalue().encode("utf-8")


@st.cache_data(ttl=15, show_spinner=False)
def count(path: str, f: InboxFilter) -> int:
    with reader(path) as store:
        return store.count_inbox(f)


def page() -> None:
    st.title("Export")
    path = database()
    f = mention_filters(path, key="export", statuses=())
    matching = count(path, f)
    st.metric("Matching mentions", f"{matching:,}")
    choice = st.radio("Format", list(FORMATS), horizontal=True, key="export-format")
    fmt, mime = FORMATS[choice]
    st.caption(
        f"Columns: {', '.join(EXPORT_COLUMNS)}. Oldest first. CSV cells that start "
        "with = + - @ are prefixed with ' so spreadsheets do not run them."
    )
    if matching == 0:
        st.info("Nothing to export with these filters.")
        return
    stamp = (f.mentions.since.date().isoformat() + "_") if f.mentions.since else ""
    st.download_button(
        f"Download {matching:,} mentions ({choice})",
        data=lambda: export_bytes(path, f, fmt),
        file_name=f"kuulo-mentions_{stamp}export.{fmt}",
        mime=mime,
        on_click="ignore",
        type="primary",
        key="export-download",
    )
