"""Inbox: the daily work. Newest mentions first, with filters, selection and staff actions."""

from __future__ import annotations

import hashlib

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import actions
from dashboard.common import COLOURS, database, mention_filters, readable, reader, safe_links
from kuulo.store.inbox import InboxFilter

PAGE_SIZE = 200


@st.cache_data(ttl=15, show_spinner=False)
def load_inbox(path: str, f: InboxFilter) -> tuple[pd.DataFrame, int, dict[str, int]]:
    with reader(path) as store:
        rows = store.inbox(f, limit=PAGE_SIZE)
        return pd.DataFrame(rows), store.count_inbox(f), store.sentiment_counts(f)


@st.cache_data(ttl=60, show_spinner=False)
def load_daily(path: str, f: InboxFilter) -> pd.DataFrame:
    with reader(path) as store:
        return pd.DataFrame(store.sentiment_over_time(f, "day"))


def clear_caches() -> None:
    load_inbox.clear()
    load_daily.clear()
    actions.team.clear()


def mention_text(rows: pd.DataFrame) -> pd.Series:
    """Title and text in one cell, without repeating a title the text starts with."""
    titles = rows["title"].fillna("")
    texts = rows["text"].fillna("")
    repeated = [bool(t) and x.startswith(t.rstrip("…")) for t, x in zip(titles, texts, strict=True)]
    combined = (titles + " — " + texts).where(~pd.Series(repeated, index=rows.index), texts)
    return combined.map(readable).str.strip(" —").str.slice(0, 280)


def inbox_table(rows: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "When (UTC)": pd.to_datetime(rows["ts"]),
            "Sentiment": rows["sentiment"].fillna("pending"),
            "Score": rows["sentiment_score"],
            "Mention": mention_text(rows),
            "Open to reply": safe_links(rows["url"]),
            "Status": rows["status"],
            "Source": rows["source_name"],
            "Author": rows["author"].map(readable),
            "Reach": rows["author_followers"],
            "Brands": rows["brands"].fillna(""),
            "Assignee": rows["assignee"],
            "Tags": rows["tags"],
            "Corrected": rows["corrected"],
            "Notes": rows["notes"],
        }
    )
    if rows["rating"].notna().any():
        table.insert(5, "Rating", rows["rating"])
    if rows["sentiment_reason"].notna().any():
        table["Reason"] = rows["sentiment_reason"]
    return table


COLUMNS = {
    "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "Score": st.column_config.NumberColumn(format="%.2f", width="small"),
    "Sentiment": st.column_config.TextColumn(width="small"),
    "Mention": st.column_config.TextColumn(width="large"),
    "Reach": st.column_config.NumberColumn(format="compact", width="small"),
    "Status": st.column_config.TextColumn(width="small"),
    "Rating": st.column_config.NumberColumn(format="%.1f ★", width="small"),
    "Notes": st.column_config.NumberColumn(width="small"),
    "Open to reply": st.column_config.LinkColumn(display_text="Open ↗"),
}


def daily_chart(daily: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(daily.assign(at=pd.to_datetime(daily["at"], utc=True)))
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(at):T", title="Day (UTC)"),
            y=alt.Y("mentions:Q", title="Mentions", stack=True),
            color=alt.Color(
                "sentiment:N",
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[alt.Tooltip("utcyearmonthdate(at):T", title="Day"), "sentiment", "mentions"],
        )
        .properties(height=220)
    )


def metrics(total: int, counts: dict[str, int]) -> None:
    negative = counts.get("negative", 0)
    first, second, third = st.columns(3)
    first.metric("Mentions", f"{total:,}")
    second.metric("Negative", f"{negative:,}")
    third.metric("Negative share", f"{negative / total:.0%}" if total else "n/a")


@st.fragment(run_every="30s")
def inbox_view(path: str, f: InboxFilter) -> None:
    """Re-run every 30 s; a changed set of rows gets a new table key, so no stale selection."""
    actions.flash()
    rows, total, counts = load_inbox(path, f)
    metrics(total, counts)
    if total == 0:
        st.info("No mentions match these filters. Widen the period or clear a filter.")
        return
    with st.expander("Mentions per day by sentiment"):
        st.altair_chart(daily_chart(load_daily(path, f)), width="stretch")
    st.subheader(f"Newest mentions ({min(total, PAGE_SIZE)} of {total:,})")
    st.caption("Tick rows to act on them; the actions appear below the table.")
    digest = hashlib.sha1(",".join(rows["id"]).encode(), usedforsecurity=False).hexdigest()[:12]
    event = st.dataframe(
        inbox_table(rows),
        key=f"inbox-{digest}",
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        height=520,
        column_config=COLUMNS,
    )
    chosen = rows.iloc[list(event.selection.rows)] if event is not None else rows.iloc[[]]
    actions.panel(path, chosen, clear_caches)


def page() -> None:
    st.title("Inbox")
    path = database()
    inbox_view(path, mention_filters(path, key="inbox"))
    actions.blocks_panel(path, clear_caches)
