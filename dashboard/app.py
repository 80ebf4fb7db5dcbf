"""The kuulo dashboard: ``streamlit run dashboard/app.py -- --config config/kuulo.toml``.

Read-only: it opens the database with ``mode=ro`` and never collects, scores or sends.
Mention text is untrusted, so it is shown only through components that escape it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.settings import Settings, load_settings
from kuulo.store import MentionFilter, open_store

PERIODS = {"Last 24 hours": timedelta(days=1), "Last 7 days": timedelta(days=7),
           "Last 30 days": timedelta(days=30), "All time": None}  # fmt: skip
SENTIMENTS = ["negative", "neutral", "positive", "unscored"]
COLOURS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9b5b",
           "unscored": "#d9c27a", "pending": "#cfd6dd"}  # fmt: skip
PAGE_SIZE = 200


def config_arg(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    return parser.parse_known_args(argv)[0].config


@st.cache_resource
def settings_for(config: str | None) -> Settings:
    return load_settings(config)


@st.cache_data(ttl=15, show_spinner=False)
def load_view(database: str, mf: MentionFilter) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    with open_store(database, read_only=True) as store:
        rows = store.mentions(mf, limit=PAGE_SIZE)
        daily = store.daily_sentiment(mf)
        total = store.count_mentions(mf)
    return pd.DataFrame(rows), pd.DataFrame(daily), total


@st.cache_data(ttl=60, show_spinner=False)
def filter_options(database: str) -> tuple[list[str], list[str]]:
    with open_store(database, read_only=True) as store:
        return store.distinct_values("brand"), store.distinct_values("source_name")


def sidebar(database: str) -> MentionFilter:
    brands, sources = filter_options(database)
    st.sidebar.header("Filters")
    period = st.sidebar.selectbox("Period", list(PERIODS), index=2)
    chosen_brands = st.sidebar.multiselect("Brand", brands)
    chosen_sources = st.sidebar.multiselect("Source", sources)
    sentiments = st.sidebar.multiselect("Sentiment", SENTIMENTS)
    window = PERIODS[period]
    since = (utcnow() - window).replace(minute=0, second=0, microsecond=0) if window else None
    return MentionFilter(
        brands=tuple(chosen_brands),
        sources=tuple(chosen_sources),
        sentiments=tuple(sentiments),
        since=since,
    )


def daily_chart(daily: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("mentions:Q", title="Mentions", stack=True),
            color=alt.Color(
                "sentiment:N",
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["day:T", "sentiment:N", "mentions:Q"],
        )
        .properties(height=260)
    )


def mention_table(rows: pd.DataFrame) -> None:
    safe_url = rows["url"].where(rows["url"].str.match(r"^https?://", na=False), None)
    table = pd.DataFrame(
        {
            "When (UTC)": pd.to_datetime(rows["ts"]),
            "Sentiment": rows["sentiment"].fillna("pending"),
            "Score": rows["sentiment_score"],
            "Mention": _mention_text(rows),
            "Brands": rows["brands"].fillna("").str.replace(";", ", "),
            "Source": rows["source_name"],
            "Author": rows["author"],
            "Open to reply": safe_url,
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=560,
        column_config={
            "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Score": st.column_config.NumberColumn(format="%.2f", width="small"),
            "Sentiment": st.column_config.TextColumn(width="small"),
            "Mention": st.column_config.TextColumn(width="medium"),
            "Open to reply": st.column_config.LinkColumn(display_text="Open ↗", width="small"),
        },
    )


def _mention_text(rows: pd.DataFrame) -> pd.Series:
    """Title and text in one cell, without repeating a title the text starts with."""
    titles = rows["title"].fillna("")
    texts = rows["text"].fillna("")
    repeated = [bool(t) and x.startswith(t.rstrip("…")) for t, x in zip(titles, texts, strict=True)]
    combined = (titles + " — " + texts).where(~pd.Series(repeated, index=rows.index), texts)
    return combined.str.strip(" —").str.slice(0, 280)


@st.fragment(run_every="30s")
def mentions_view(database: str, mf: MentionFilter) -> None:
    rows, daily, total = load_view(database, mf)
    negative = int(daily.loc[daily["sentiment"] == "negative", "mentions"].sum()) if total else 0
    first, second, third = st.columns(3)
    first.metric("Mentions", f"{total:,}")
    second.metric("Negative", f"{negative:,}")
    third.metric("Negative share", f"{negative / total:.0%}" if total else "n/a")
    if total == 0:
        st.info("No mentions match these filters yet.")
        return
    st.subheader("Mentions per day by sentiment")
    st.altair_chart(daily_chart(daily), width="stretch")
    st.subheader(f"Newest mentions ({min(total, PAGE_SIZE)} of {total:,})")
    mention_table(rows)


def main() -> None:
    st.set_page_config(page_title="kuulo", page_icon="👂", layout="wide")
    st.title("kuulo · mentions")
    try:
        settings = settings_for(config_arg(sys.argv[1:]))
    except KuuloError as exc:
        st.error(f"Configuration problem:\n\n{exc}")
        st.stop()
    database = settings.database_path()
    if not database.exists():
        st.info(f"No database yet at `{database}`. Start collecting with `kuulo run`.")
        st.stop()
    mentions_view(str(database), sidebar(str(database)))


main()
