"""What every dashboard page shares: settings, the two store connections, filters, colours.

Views read through a read-only connection (``mode=ro``), cached for a few seconds; staff
actions go through :func:`writer`, a separate writable store opened only for that action.
Mention text is untrusted: pages show it only in dataframe cells or ``st.text``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from kuulo.catalog import load_merged
from kuulo.clock import utcnow
from kuulo.settings import Settings, load_settings
from kuulo.settings_errors import Problem
from kuulo.store import MentionFilter, Store, open_store
from kuulo.store.inbox import STATUSES, InboxFilter

PERIODS = {
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
    "Date range": None,
}
SENTIMENTS = ["negative", "neutral", "positive", "unscored"]
COLOURS = {
    "negative": "#d64545",
    "neutral": "#9aa5b1",
    "positive": "#3f9b5b",
    "unscored": "#d9c27a",
    "pending": "#cfd6dd",
}
LANGUAGES = ["en", "fi", "sv", "de", "fr", "es", "nl", "it", "pt", "da", "no", "pl"]


def config_arg(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    config = parser.parse_known_args(argv)[0].config
    return None if config is None else str(config)


@st.cache_resource
def settings_for(config: str | None) -> Settings:
    return load_settings(config)


def file_settings() -> Settings:
    """The config file alone, as ``app.py`` loaded and checked it."""
    return settings_for(config_arg(sys.argv[1:]))


@st.cache_resource(ttl=5, show_spinner=False)
def merged_for(config: str | None) -> tuple[Settings, list[Problem]]:
    """The config file plus the brands, sources and rules created in the dashboard, and the
    dashboard items left out (with why); shared by every session for a few seconds."""
    return load_merged(settings_for(config))


def merged() -> tuple[Settings, list[Problem]]:
    return merged_for(config_arg(sys.argv[1:]))


def settings() -> Settings:
    """What pages list brands, sources and rules from: the config file plus the dashboard's
    items, the same merged set the pipeline uses (``kuulo/catalog.py``)."""
    return merged()[0]


def catalog_changed() -> None:
    """After a catalog write: the next :func:`settings` reads the database again."""
    merged_for.clear()


def database() -> str:
    return str(file_settings().database_path())


@st.cache_resource
def ensure_schema(path: str) -> bool:
    """Apply pending migrations once per process (the inbox tables may be newer than the file)."""
    with open_store(path):
        return True


@contextmanager
def reader(path: str) -> Iterator[Store]:
    with open_store(path, read_only=True) as store:
        yield store


@contextmanager
def writer(path: str) -> Iterator[Store]:
    """The writable store, for one staff action."""
    with open_store(path, migrate=False) as store:
        yield store


@st.cache_data(ttl=60, show_spinner=False)
def filter_options(path: str) -> tuple[list[str], list[str]]:
    with reader(path) as store:
        return store.distinct_values("brand"), store.distinct_values("source_name")


def window(period: str, days: tuple[date, ...] | None = None) -> tuple[datetime | None, ...]:
    """(since, until) for a period name; hours are rounded so cached reads can be reused."""
    if period == "Date range" and days:
        start, end = days[0], days[-1]
        return (
            datetime.combine(start, time(), UTC),
            datetime.combine(end + timedelta(days=1), time(), UTC),
        )
    span = PERIODS.get(period)
    if span is None:
        return None, None
    return (utcnow() - span).replace(minute=0, second=0, microsecond=0), None


def mention_filters(path: str, *, key: str, statuses: tuple[str, ...] = ("new",)) -> InboxFilter:
    """The inbox filters in the sidebar (also used by Export)."""
    brands, sources = filter_options(path)
    side = st.sidebar
    side.header("Filters")
    period = side.selectbox("Period", list(PERIODS), index=2, key=f"{key}-period")
    days = None
    if period == "Date range":
        today = utcnow().date()
        days = side.date_input(
            "From - to (UTC)", (today - timedelta(days=7), today), key=f"{key}-days"
        )
    chosen_brands = side.multiselect("Brand", brands, key=f"{key}-brand")
    chosen_sources = side.multiselect("Source", sources, key=f"{key}-source")
    sentiments = side.multiselect("Sentiment (model)", SENTIMENTS, key=f"{key}-sentiment")
    languages = side.multiselect(
        "Language", LANGUAGES, key=f"{key}-language", accept_new_options=True
    )
    chosen_statuses = side.multiselect(
        "Status", STATUSES, default=list(statuses), key=f"{key}-status"
    )
    stars = side.slider("Rating (reviews)", 1.0, 5.0, (1.0, 5.0), 0.5, key=f"{key}-rating")
    search = side.text_input("Search text", key=f"{key}-search", placeholder="words to find")
    since, until = window(period, tuple(days) if isinstance(days, tuple | list) else None)
    rated = stars != (1.0, 5.0)
    return InboxFilter(
        MentionFilter(
            brands=tuple(chosen_brands),
            sources=tuple(chosen_sources),
            sentiments=tuple(sentiments),
            languages=tuple(languages),
            since=since,
            until=until,
            search=search.strip() or None,
        ),
        statuses=tuple(chosen_statuses),
        min_rating=stars[0] if rated else None,
        max_rating=stars[1] if rated else None,
    )


# Right-to-left/left-to-right embeddings, overrides and isolates: in untrusted text they can
# make "invoice\u202egpj.exe" read "invoiceexe.jpg". Shown without them, text reads as stored.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def readable(text: object) -> str:
    """Untrusted text for display: its bidirectional controls removed (escaping is the
    component's job: ``st.text``, dataframe cells)."""
    return "" if text is None else str(text).translate(_BIDI_CONTROLS)


def safe_links(urls: object) -> object:
    """Only http(s) links become clickable; anything else (``javascript:``...) is dropped."""
    import pandas as pd

    series = pd.Series(urls, dtype="object")
    return series.where(series.str.match(r"^https?://", na=False), None)


def actor() -> str:
    """Who is acting: the signed-in user (``dashboard/auth.py``) when sign-in is on, else the
    e-mail of an ``st.login`` user, else the name typed in "Acting as"."""
    if signed_in := st.session_state.get("auth-user"):
        return str(signed_in)
    email = st.user.get("email")
    typed = st.session_state.get("actor", "")
    return str(email or typed or "staff")
