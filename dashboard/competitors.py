"""Competitors: share of voice and sentiment of a brand beside its configured competitors."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import COLOURS, database, reader, settings
from kuulo.clock import utcnow

PERIODS = {
    "24 hours": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "90 days": timedelta(days=90),
}


@st.cache_data(ttl=60, show_spinner=False)
def load(path: str, brands: tuple[str, ...], days: int) -> pd.DataFrame:
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    with reader(path) as store:
        rows = store.brand_sentiment(list(brands), since)
    frame = pd.DataFrame(rows, columns=["brand", "sentiment", "mentions"])
    return frame.astype({"mentions": "int64"})


def summary(data: pd.DataFrame, brands: tuple[str, ...]) -> pd.DataFrame:
    wide = data.pivot_table(
        index="brand", columns="sentiment", values="mentions", aggfunc="sum", fill_value=0
    ).reindex(list(brands), fill_value=0)
    total = wide.sum(axis=1)
    result = pd.DataFrame({"Brand": wide.index, "Mentions": total.to_numpy()})
    result["Share of voice"] = (total / total.sum() if total.sum() else total * 0.0).to_numpy()
    for label in ("negative", "positive"):
        counts = wide[label] if label in wide else total * 0
        result[f"{label.capitalize()} share"] = (counts / total.where(total > 0)).to_numpy()
    return result


def voice_chart(table: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(table)
        .mark_bar(color="#4c78a8")
        .encode(
            y=alt.Y("Brand:N", sort=None, title=None),
            x=alt.X("Share of voice:Q", axis=alt.Axis(format="%"), title="Share of voice"),
            tooltip=["Brand", "Mentions", alt.Tooltip("Share of voice:Q", format=".0%")],
        )
        .properties(height=alt.Step(34))
    )


def sentiment_chart(data: pd.DataFrame, brands: tuple[str, ...]) -> alt.Chart:
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("brand:N", sort=list(brands), title=None),
            x=alt.X(
                "mentions:Q",
                stack="normalize",
                axis=alt.Axis(format="%"),
                title="Share of the brand's mentions",
            ),
            color=alt.Color(
                "sentiment:N",
                legend=alt.Legend(orient="top", title=None),
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
            ),
            tooltip=["brand:N", "sentiment:N", "mentions:Q"],
        )
        .properties(height=alt.Step(34))
    )


def page() -> None:
    st.title("Competitors")
    configured = {b.name: b.competitors for b in settings().brands}
    if not any(configured.values()):
        st.info(
            'No competitors configured. Add `competitors = ["Other brand"]` to a '
            "`[[brands]]` entry (each competitor is a brand of its own)."
        )
        return
    names = sorted(configured, key=lambda n: (not configured[n], n))
    left, right = st.columns([2, 3])
    brand = left.selectbox("Brand", names, key="competitors-brand")
    period = (
        right.segmented_control(
            "Period", list(PERIODS), default="30 days", key="competitors-period"
        )
        or "30 days"
    )
    brands = (brand, *configured[brand])
    data = load(database(), brands, PERIODS[period].days)
    if data.empty:
        st.info(f"No mentions of {', '.join(brands)} in the last {period}.")
        return
    table = summary(data, brands)
    left, right = st.columns(2)
    with left:
        st.subheader("Share of voice")
        st.altair_chart(voice_chart(table), width="stretch")
    with right:
        st.subheader("Sentiment side by side")
        st.altair_chart(sentiment_chart(data, brands), width="stretch")
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Share of voice": percent,
            "Negative share": percent,
            "Positive share": percent,
        },
    )
