"""The dashboard's inbox, overview and competitor reads reach ``mentions`` through an index.

Same method as ``test_query_plans.py`` (whose analysed store and helpers this reuses), with a
block of each kind in place so the block conditions are part of every plan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from kuulo.store import MentionFilter, SqliteStore
from kuulo.store.inbox import InboxFilter
from tests.kuulo.store.test_query_plans import FILTERS, INDEXED, NOW, full_scans, plans
from tests.kuulo.store.test_query_plans import store as store  # re-exported fixture

READS: dict[str, Callable[[SqliteStore, InboxFilter], Any]] = {
    "inbox": lambda s, f: s.inbox(f, limit=200),
    "count_inbox": lambda s, f: s.count_inbox(f),
    "inbox_export_rows": lambda s, f: s.inbox_export_rows(f),
    "sentiment_counts": lambda s, f: [s.sentiment_counts(f)],
    "sentiment_over_time": lambda s, f: s.sentiment_over_time(f, "hour"),
    "by_source": lambda s, f: s.by_source(f),
    "top_authors": lambda s, f: s.top_authors(f),
}
EXTRA: dict[str, dict[str, Any]] = {
    "none": {},
    "status": {"statuses": ("new", "handled")},
    "rating": {"min_rating": 1.0, "max_rating": 3.0},
}


@pytest.fixture(scope="module", autouse=True)
def blocks(store: SqliteStore) -> None:
    store.block("author", "someone", "test", NOW)
    store.block("site", "spam.example", "test", NOW)
    store.set_status(["news:1", "blog:2"], "handled", "test", NOW)


@pytest.mark.parametrize("window", [timedelta(days=1), timedelta(days=30)], ids=["24h", "30d"])
@pytest.mark.parametrize("extra", list(EXTRA))
@pytest.mark.parametrize("mention", list(FILTERS))
@pytest.mark.parametrize("read", list(READS))
def test_inbox_reads_search_mentions_by_index(
    store: SqliteStore, read: str, mention: str, extra: str, window: timedelta
) -> None:
    mf = MentionFilter(since=NOW - window, **FILTERS[mention])
    f = InboxFilter(mf, **EXTRA[extra])
    for sql, details in plans(store, lambda s: READS[read](s, f)):
        assert full_scans(details) == [], f"{read} with {mention}/{extra} scans:\n{sql}\n{details}"
        assert any(d.startswith(INDEXED) for d in details), details


@pytest.mark.parametrize("window", [timedelta(days=1), timedelta(days=30)], ids=["24h", "30d"])
def test_brand_sentiment_searches_by_brand_and_time(store: SqliteStore, window: timedelta) -> None:
    read = lambda s: s.brand_sentiment(["Acme", "Globex"], NOW - window)  # noqa: E731
    for sql, details in plans(store, read):
        assert full_scans(details) == [], f"{sql}\n{details}"
        assert any(d.startswith(("SEARCH x ", "SEARCH s ")) for d in details), details
