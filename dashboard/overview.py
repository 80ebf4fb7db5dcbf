"""Overview: per brand and period, volume, negative share and their change; where and who."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import COLOURS, database, filter_options, reader, safe_links
from dashboard.inbox import mention_text
from kuulo.clock import utcnow
from kuulo.store import MentionFilter
from kuulo.store.inbox import InboxFilter

PERIODS = {
    "24 hours": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
}


@st.cache_data(ttl=30, show_spinner=False)
def load(path: str, f: InboxFilter, previous: InboxFilter, bucket: str) -> dict[str, object]:
    with reader(path) as store:
        return {
            "now": store.sentiment_counts(f),
            "before": store.sentiment_counts(previous),
            "over_time": pd.DataFrame(store.sentiment_over_time(f, bucket)),  # type: ignore[arg-type]
            "sources": pd.DataFrame(store.by_source(f)),
            "authors": pd.DataFrame(store.top_authors(f, limit=10)),
            "negative": pd.DataFrame(store.inbox(_negative(f), limit=15)),
        }


def _negative(f: InboxFilter) -> InboxFilter:
    return replace(f, mentions=replace(f.mentions, sentiments=("negative",)))


def filters(path: str) -> tuple[InboxFilter, InboxFilter, str, str]:
    brands, _ = filter_options(path)
    left, right = st.columns([2, 3])
    brand = left.selectbox("Brand", ["All brands", *brands], key="overview-brand")
    period = (
        right.segmented_control("Period", list(PERIODS), default="7 days", key="overview-period")
        or "7 days"
    )
    span = PERIODS[period]
    end = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    chosen = (brand,) if brand != "All brands" else ()
    now = MentionFilter(brands=chosen, since=end - span, until=end)
    before = MentionFilter(brands=chosen, since=end - 2 * span, until=end - span)
    return InboxFilter(now), InboxFilter(before), period, "hour" if span.days <= 1 else "day"


def headline(now: dict[str, int], before: dict[str, int], period: str) -> None:
    total, previous = sum(now.values()), sum(before.values())
    share = now.get("negative", 0) / total if total else None
    old_share = before.get("negative", 0) / previous if previous else None
    first, second, third = st.columns(3)
    change = f"{(total - previous) / previous:+.0%} vs previous {period}" if previous else None
    first.metric("Mentions", f"{total:,}", change, delta_color="off")
    second.metric("Negative", f"{now.get('negative', 0):,}")
    share_delta = (
        f"{(share - old_share) * 100:+.1f} pts"
        if share is not None and old_share is not None
        else None
    )
    third.metric(
        "Negative share",
        f"{share:.0%}" if share is not None else "n/a",
        share_delta,
        delta_color="inverse",
    )


def over_time_chart(data: pd.DataFrame, bucket: str) -> alt.Chart:
    label = "Hour (UTC)" if bucket == "hour" else "Day (UTC)"
    unit = "utcyearmonthdatehours" if bucket == "hour" else "utcyearmonthdate"
    at = data["at"] + (":00:00Z" if bucket == "hour" else "T00:00:00Z")
    return (
        alt.Chart(data.assign(at=pd.to_datetime(at, utc=True)))
        .mark_bar()
        .encode(
            x=alt.X(f"{unit}(at):T", title=label),
            y=alt.Y("mentions:Q", title="Mentions", stack=True),
            color=alt.Color(
                "sentiment:N",
                legend=alt.Legend(orient="top", title=None),
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
            ),
            tooltip=[alt.Tooltip(f"{unit}(at):T", title=label), "sentiment:N", "mentions:Q"],
        )
        .properties(height=260)
    )


def source_chart(data: pd.DataFrame) -> alt.Chart:
    long = data.assign(other=data["mentions"] - data["negative"]).melt(
        id_vars="source", value_vars=["negative", "other"], var_name="kind", value_name="n"
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("source:N", sort="-x", title=None),
            x=alt.X("n:Q", title="Mentions", stack=True),
            color=alt.Color(
                "kind:N",
                legend=alt.Legend(orient="top", title=None),
                scale=alt.Scale(
                    domain=["negative", "other"], range=[COLOURS["negative"], COLOURS["neutral"]]
                ),
            ),
            tooltip=["source:N", "kind:N", "n:Q"],
        )
        .properties(height=alt.Step(26))
    )


def details(data: dict[str, pd.DataFrame]) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("By source")
        st.altair_chart(source_chart(data["sources"]), width="stretch")
    with right:
        st.subheader("Top authors by reach")
        authors = data["authors"]
        if not authors.empty and authors["reach"].isna().all():
            authors = authors.drop(columns="reach")  # no source here reports followers
        if authors.empty:
            st.caption("No authors named in this period.")
        else:
            st.dataframe(
                authors.rename(columns=str.capitalize),
                hide_index=True,
                width="stretch",
                column_config={"Reach": st.column_config.NumberColumn(format="compact")},
            )
    st.subheader("Recent negative mentions")
    negative = data["negative"]
    if negative.empty:
        st.caption("No negative mentions in this period.")
        return
    table = pd.DataFrame(
        {
            "When (UTC)": pd.to_datetime(negative["ts"]),
            "Mention": mention_text(negative),
            "Source": negative["source_name"],
            "Author": negative["author"],
            "Status": negative["status"],
            "Open to reply": safe_links(negative["url"]),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Open to reply": st.column_config.LinkColumn(display_text="Open ↗"),
        },
    )


def page() -> None:
    st.title("Overview")
    path = database()
    now, before, period, bucket = filters(path)
    data = load(path, now, before, bucket)
    headline(data["now"], data["before"], period)  # type: ignore[arg-type]
    if not data["now"]:
        st.info(f"No mentions in the last {period}.")
        return
    st.subheader("Mentions over time by sentiment")
    st.altair_chart(over_time_chart(data["over_time"], bucket), width="stretch")  # type: ignore[arg-type]
    details(data)  # type: ignore[arg-type]
