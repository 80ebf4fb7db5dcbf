"""Overview: per brand and period, volume, negative share and their change; where and who."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import (
    COLOURS,
    database,
    filter_options,
    readable,
    reader,
    safe_links,
    settings,
)
from dashboard.inbox import mention_text
from kuulo.clock import utcnow
from kuulo.settings import BrandSettings
from kuulo.settings_alerts import AlertSettings
from kuulo.spikes import Episode, episodes
from kuulo.store import MentionFilter
from kuulo.store.inbox import InboxFilter
from kuulo.terms import top_terms

PERIODS = {
    "24 hours": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "Custom": None,
}
THEME_SAMPLE = 500  # newest negative mentions the themes are drawn from
RECENT_NEGATIVES = 15  # of those, listed under "Recent negative mentions"
ROW_HEIGHT = 35  # pixels per row of st.dataframe


@st.cache_data(ttl=30, show_spinner=False)
def load(path: str, f: InboxFilter, previous: InboxFilter, bucket: str) -> dict[str, object]:
    with reader(path) as store:
        negatives = store.inbox(_negative(f), limit=THEME_SAMPLE)  # newest first
        return {
            "now": store.sentiment_counts(f),
            "before": store.sentiment_counts(previous),
            "over_time": pd.DataFrame(store.sentiment_over_time(f, bucket)),  # type: ignore[arg-type]
            "sources": pd.DataFrame(store.by_source(f)),
            "authors": pd.DataFrame(store.top_authors(f, limit=10)),
            "negative": pd.DataFrame(negatives[:RECENT_NEGATIVES]),
            "negative_texts": [f"{r['title'] or ''} {r['text'] or ''}" for r in negatives],
        }


@st.cache_data(ttl=60, show_spinner=False)
def load_spikes(
    path: str, brands: tuple[str, ...], since: datetime, until: datetime, alerts: AlertSettings
) -> list[dict[str, object]]:
    """Past spike episodes per brand, judged as the live spike check judges the last hour."""
    rows: list[dict[str, object]] = []
    with reader(path) as store:
        for brand in brands:
            counts = store.hourly_brand_counts(brand, since - alerts.spike_baseline, until)
            found = episodes(
                counts,
                since,
                until,
                alerts.spike_baseline,
                alerts.spike_threshold,
                alerts.spike_min_count,
            )
            rows += [_spike_row(brand, e) for e in found]
    return sorted(rows, key=lambda r: str(r["Started (UTC)"]), reverse=True)


def _spike_row(brand: str, e: Episode) -> dict[str, object]:
    volume = e.metric == "volume"
    return {
        "Started (UTC)": pd.Timestamp(f"{e.start}:00:00", tz="UTC"),
        "Brand": brand,
        "What": "Mention volume" if volume else "Negative share",
        "For": f"{(_hour(e.end) - _hour(e.start)) // timedelta(hours=1) + 1} h",
        "Peak hour": f"{e.peak.count:,} mentions" if volume else f"{e.peak.value:.0%} negative",
        "Usually": f"{e.peak.median:g} mentions" if volume else f"{e.peak.median:.0%} negative",
    }


def _hour(key: str) -> datetime:
    return datetime.fromisoformat(f"{key}:00:00+00:00")


def _negative(f: InboxFilter) -> InboxFilter:
    return replace(f, mentions=replace(f.mentions, sentiments=("negative",)))


Window = tuple[datetime, datetime]


def filters(path: str) -> tuple[InboxFilter, InboxFilter, str, str, Window]:
    brands, _ = filter_options(path)
    left, right = st.columns([2, 3])
    brand = left.selectbox("Brand", ["All brands", *brands], key="overview-brand")
    period = (
        right.segmented_control("Period", list(PERIODS), default="7 days", key="overview-period")
        or "7 days"
    )
    start, end = _window(period)
    span = end - start
    chosen = (brand,) if brand != "All brands" else ()
    now = MentionFilter(brands=chosen, since=start, until=end)
    before = MentionFilter(brands=chosen, since=start - span, until=start)
    label = period if period != "Custom" else f"{span.days} days"
    bucket = "hour" if span.days <= 2 else "day"
    return InboxFilter(now), InboxFilter(before), label, bucket, (start, end)


def _window(period: str) -> Window:
    """The period's [start, end): a rolling window up to the next whole hour, or whole UTC days
    picked in a date range ("Custom")."""
    end = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    span = PERIODS.get(period)
    if span is not None:
        return end - span, end
    today = end.date()
    picked = st.date_input(
        "Days (UTC)",
        (today - timedelta(days=13), today),
        max_value=today,
        key="overview-days",
        help="From the first day's start to the last day's end, in UTC.",
    )
    days = picked if isinstance(picked, tuple) and picked else (today,)
    first, last = days[0], days[-1]
    return (
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )


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


def themes(texts: list[str], brands: list[BrandSettings]) -> None:
    st.subheader("What negative mentions are about")
    terms = top_terms(texts, exclude=[b.query for b in brands] + [b.name for b in brands])
    if not terms:
        st.caption("Too few negative mentions in this period to find common words.")
        return
    table = pd.DataFrame(
        {"Word or phrase": [t.term for t in terms], "Mentions": [t.mentions for t in terms]}
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=ROW_HEIGHT * (len(table) + 1) + 3,  # every row, no scrolling
        column_config={
            "Mentions": st.column_config.ProgressColumn(
                format="%d", min_value=0, max_value=int(table["Mentions"].max())
            )
        },
    )
    sample = f"the newest {THEME_SAMPLE:,}" if len(texts) >= THEME_SAMPLE else "all"
    st.caption(f"Counted once per mention, over {sample} negative mentions of the period.")


def spikes(rows: list[dict[str, object]]) -> None:
    st.subheader("Spikes")
    if not rows:
        st.caption(
            "No spikes in this period. A spike is an hour far above a brand's usual volume or"
            " negative share, judged against the week before it (as spike alerts are)."
        )
        return
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "Started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
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
            "Author": negative["author"].map(readable),
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
    now, before, period, bucket, window = filters(path)
    data = load(path, now, before, bucket)
    headline(data["now"], data["before"], period)  # type: ignore[arg-type]
    if not data["now"]:
        st.info(f"No mentions in the last {period}.")
        return
    st.subheader("Mentions over time by sentiment")
    st.altair_chart(over_time_chart(data["over_time"], bucket), width="stretch")  # type: ignore[arg-type]
    merged = settings()
    chosen = now.mentions.brands or tuple(b.name for b in merged.brands)
    since, until = window
    left, right = st.columns([2, 3])
    with left:
        themes(data["negative_texts"], [b for b in merged.brands if b.name in chosen])  # type: ignore[arg-type]
    with right:
        spikes(load_spikes(path, chosen, since, until, merged.alerts))
    details(data)  # type: ignore[arg-type]
