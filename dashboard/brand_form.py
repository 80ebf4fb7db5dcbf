"""Add and edit a dashboard brand, with a live "would match" preview of its query.

The preview re-runs as the query changes (no submit): it parses the query with the same
:class:`~kuulo.matching.BrandQuery` the pipeline uses and matches it locally against the most
recent mentions, so an admin sees its reach, or its parse error, before saving. Mention text is
untrusted and shown only in dataframe cells.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import catalog_forms as forms
from dashboard.common import reader
from kuulo.errors import QueryError
from kuulo.matching import BrandQuery
from kuulo.settings import Settings
from kuulo.store import CatalogItem, MentionFilter

PREVIEW_SIZE = 500
EXAMPLES = 5
SNIPPET = 200
QUERY_HELP = (
    "Lucene syntax, matched case- and accent-insensitively on whole words: `acme`,"
    ' `"acme corp"` (phrase), `acme*` (prefix), `#acme`, `@acme`, `OR`, `AND`, `-word` or'
    " `NOT word` (exclude), `( )`."
)


@st.cache_data(ttl=30, show_spinner=False)
def recent_mentions(path: str, limit: int = PREVIEW_SIZE) -> pd.DataFrame:
    """The newest mentions, with the text the pipeline matches brands on (title + body)."""
    with reader(path) as store:
        rows = store.mentions(MentionFilter(), limit=limit)
    frame = pd.DataFrame(rows, columns=["ts", "source_name", "title", "text"])
    title = frame["title"].fillna("")
    body = frame["text"].fillna("")
    frame["searchable"] = (title + "\n" + body).where(title != "", body)
    return frame


def would_match(query: BrandQuery, recent: pd.DataFrame) -> pd.DataFrame:
    return recent[[query.matches(text) for text in recent["searchable"]]]


def examples(hits: pd.DataFrame) -> pd.DataFrame:
    snippet = hits["searchable"].str.replace(r"\s+", " ", regex=True).str.slice(0, SNIPPET)
    return pd.DataFrame(
        {
            "When (UTC)": pd.to_datetime(hits["ts"], utc=True),
            "Source": hits["source_name"],
            "Mention": snippet,
        }
    )


def preview(path: str, query: str) -> bool:
    """Under the query field: its parse error, or how many recent mentions it would match.

    Returns whether the query parses (or is empty), i.e. whether no error was shown yet.
    """
    if not query.strip():
        st.caption(f"Type a query to see which of the latest {PREVIEW_SIZE} mentions it matches.")
        return True
    try:
        parsed = BrandQuery(query)
    except QueryError as exc:
        st.error(forms.escape_md(exc), icon=":material/error:")
        return False
    recent = recent_mentions(path)
    if recent.empty:
        st.caption("No mentions collected yet: nothing to preview the query against.")
        return True
    hits = would_match(parsed, recent)
    st.markdown(
        f":material/manage_search: Would match **{len(hits):,}** of the latest"
        f" {len(recent):,} mentions."
    )
    if not hits.empty:
        st.dataframe(
            examples(hits.head(EXAMPLES)),
            hide_index=True,
            width="stretch",
            column_config={
                "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "Mention": st.column_config.TextColumn(width="large"),
            },
        )
    return True


def load(body: Mapping[str, Any], known: list[str]) -> dict[str, Any]:
    """A stored brand -> field values (competitors no longer known are dropped)."""
    if not body:
        return {}
    return {
        "name": str(body.get("name", "")),
        "query": str(body.get("query", "")),
        "competitors": [c for c in body.get("competitors", []) if c in known],
    }


def form(
    path: str, settings: Settings, items: list[CatalogItem], clear: Callable[[], None]
) -> None:
    ours = [i for i in items if not i.is_override]
    bodies = {i.name: i.body for i in ours}
    known = [b.name for b in settings.brands]
    names = [i.name for i in ours]
    choice = forms.picker("brand", names, bodies, lambda b: load(b, known))
    editing = forms.editing(choice)
    key = forms.field_key
    name = st.text_input("Name *", key=key("brand", "name"), placeholder="e.g. Acme")
    forms.field_errors("brand", "name", name)
    query = st.text_input(
        "Query *",
        key=key("brand", "query"),
        placeholder='e.g. ("Acme Corp" OR @acme OR #acme) -"acme road"',
        help=QUERY_HELP,
    )
    if preview(path, query):  # a parse error is shown live, once, by the preview
        forms.field_errors("brand", "query", query)
    others = [n for n in known if n != editing]
    competitors = st.multiselect(
        "Competitors",
        others,
        key=key("brand", "competitors"),
        placeholder="other brands to compare it with (optional)",
    )
    forms.field_errors("brand", "competitors", competitors)
    body: dict[str, Any] = {"name": name.strip(), "query": query.strip()}
    if competitors:
        body["competitors"] = list(competitors)
    values = {"name": name, "query": query, "competitors": competitors}
    forms.item_errors("brand", set(values))
    label = "Add brand" if editing is None else "Save changes"
    if st.button(label, key="brand-save", type="primary", icon=":material/save:"):
        forms.save("brand", body, values, editing=editing, clear=clear, required=("name", "query"))
    if editing is not None:
        forms.delete_controls("brand", editing, settings, clear)
