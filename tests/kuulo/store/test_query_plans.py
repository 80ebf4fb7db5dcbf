"""Time-windowed reads (dashboard, CLI export) reach ``mentions`` through an index, never a scan.

Each read is run for real while its SQL and parameters are captured, then the same statement is
explained with ``EXPLAIN QUERY PLAN`` on an analysed database of a few hundred rows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kuulo.model import Mention, Score, SentimentLabel
from kuulo.normalise import Prepared, content_hash
from kuulo.store import MentionFilter, SqliteStore, open_store, queries
from kuulo.store.inbox import InboxFilter

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SOURCES = ("news", "blog", "reviews", "forum")
BRANDS = ("Acme", "Globex", "Initech")
# A plan step that walks a whole table (or a whole index of it) instead of searching it.
FULL_SCAN = re.compile(r"^SCAN (m|b|x|mentions|mention_brands)\b")
# How many mentions a search matches (``search_is_common``): a lookup in the FTS index only.
FTS_ONLY = re.compile(r"^SELECT count\(\*\) FROM \(SELECT 1 FROM mentions_fts WHERE")
# A read searches mentions by an index, or a per-hour summary (``s``) by its hour key.
INDEXED = ("SEARCH m ", "SEARCH s ")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    rnd = random.Random(7)  # noqa: S311 - reproducible test data
    path: Path = tmp_path_factory.mktemp("plans") / "kuulo.db"
    with open_store(path) as opened:
        assert isinstance(opened, SqliteStore)
        opened.sync_sources([(s, "rss") for s in SOURCES], NOW)
        for source in SOURCES:
            items = []
            for i in range(100):
                text = f"{source} item {i} word{i % 9}"
                m = Mention(
                    source="rss",
                    source_name=source,
                    native_id=str(i),
                    url=f"https://{source}.example/{i}",
                    text=text,
                    published_at=NOW - timedelta(minutes=rnd.randint(0, 60 * 24 * 90)),
                )
                brands = tuple(b for b in BRANDS if rnd.random() < 0.4) or ("Acme",)
                items.append(Prepared(m, None, text, "en", content_hash(None, text, m.url), brands))
            opened.save_batch(source, items, None, NOW)
        labels: list[SentimentLabel] = ["negative", "neutral", "positive"]
        opened.save_scores(
            [(p, Score(rnd.choice(labels), 0.0, "vader", "1")) for p in opened.pending_scores(300)],
            NOW,
        )
        opened.db.execute("ANALYZE")
        yield opened


def plans(store: SqliteStore, read: Callable[[SqliteStore], Any]) -> list[tuple[str, list[str]]]:
    """Run ``read`` and return each statement it executed with its query plan."""
    captured: list[tuple[str, list[Any]]] = []
    execute = store.db.execute

    def recording(sql: str, params: Any = None) -> Any:
        captured.append((sql, list(params or [])))
        return execute(sql, params) if params is not None else execute(sql)

    store.db.execute = recording  # type: ignore[method-assign,assignment]
    try:
        result = read(store)
        if not isinstance(result, list | int):
            list(result)  # export_rows is a generator
    finally:
        del store.db.execute  # back to the class method
    assert captured, "the read ran no SQL through store.db.execute"
    return [
        (sql, [r[3] for r in execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()])
        for sql, params in captured
        if not FTS_ONLY.match(sql)
    ]


def full_scans(details: list[str]) -> list[str]:
    return [d for d in details if FULL_SCAN.match(d)]


READS: dict[str, Callable[[SqliteStore, MentionFilter], Any]] = {
    "mentions": lambda s, f: s.mentions(f, limit=200),
    "count_mentions": lambda s, f: s.count_mentions(f),
    "daily_sentiment": lambda s, f: s.daily_sentiment(f),
    "export_rows": lambda s, f: s.export_rows(f),
}

FILTERS: dict[str, dict[str, Any]] = {
    "window": {},
    "brand": {"brands": ("Acme",)},
    "brands": {"brands": ("Acme", "Globex")},
    "source": {"sources": ("blog",)},
    "sources": {"sources": ("blog", "forum")},
    "sentiment": {"sentiments": ("negative",)},
    "brand+source+sentiment": {
        "brands": ("Globex",),
        "sources": ("news",),
        "sentiments": ("negative", "neutral"),
    },
    "search": {"search": "word3"},
    "until": {"until": NOW - timedelta(hours=6)},
}


@pytest.mark.parametrize("window", [timedelta(days=1), timedelta(days=30)], ids=["24h", "30d"])
@pytest.mark.parametrize("extra", list(FILTERS))
@pytest.mark.parametrize("read", list(READS))
def test_windowed_reads_search_mentions_by_index(
    store: SqliteStore, read: str, extra: str, window: timedelta
) -> None:
    mf = MentionFilter(since=NOW - window, **FILTERS[extra])
    for sql, details in plans(store, lambda s: READS[read](s, mf)):
        assert full_scans(details) == [], f"{read} with {extra} scans:\n{sql}\n{details}"
        assert any(d.startswith(INDEXED) for d in details), details


def test_the_check_catches_a_full_scan(store: SqliteStore) -> None:
    """The assertion above can fail: a filter on an unindexed column is a scan."""
    details = [
        r[3]
        for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM mentions m WHERE m.url LIKE ?", ["%x%"]
        ).fetchall()
    ]
    assert full_scans(details) != []


@pytest.mark.parametrize(("walk_min", "walks"), [(10, True), (10_000, False)])
def test_a_common_search_pages_by_walking_the_ts_index(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, walk_min: int, walks: bool
) -> None:
    """A word in many mentions: newest first down the ts index, stopping at the page's end, not
    every match fetched and sorted. Same rows either way."""
    mf = MentionFilter(since=NOW - timedelta(days=90), search="word3")  # ~1 in 9 mentions
    expected = store.mentions(mf, limit=20)
    inbox_expected = store.inbox(InboxFilter(mf), limit=20)
    monkeypatch.setattr(queries, "SEARCH_WALK_MIN", walk_min)
    for read in (lambda s: s.mentions(mf, limit=20), lambda s: s.inbox(InboxFilter(mf), 20)):
        [(sql, details)] = [p for p in plans(store, read) if "ORDER BY m.ts DESC" in p[0]]
        # "+": the match list may not drive the lookup (SQLite's planner on a million rows
        # would otherwise fetch every match and sort; on this small table it walks either way)
        assert ("+m.rowid IN (SELECT rowid FROM mentions_fts" in sql) == walks, sql
        if walks:
            assert not any("TEMP B-TREE FOR ORDER BY" in d for d in details), details
            assert any("idx_mentions_ts" in d for d in details), details
    assert store.mentions(mf, limit=20) == expected
    assert store.inbox(InboxFilter(mf), limit=20) == inbox_expected
    assert len(expected) == 20
