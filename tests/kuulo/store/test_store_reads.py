"""The SQLite store: full-text search, reads and export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kuulo.model import Score
from kuulo.store import MentionFilter, SqliteStore
from kuulo.store.queries import EXPORT_COLUMNS
from tests.kuulo.store.store_support import (
    LATER,
    NOW,
    SOURCE,
    fts_integrity,
    prep,
    query,
    score,
    search,
)

# -- full-text search ---------------------------------------------------------------------------


def test_search_follows_inserts_and_edits(store: SqliteStore) -> None:
    store.save_batch(
        SOURCE,
        [prep("1", "Acme anvils are heavy", title="Kärkkäinen reviews"), prep("2", "@acme rocks")],
        None,
        NOW,
    )
    assert search(store, "anvils") == ["news:1"]
    assert search(store, "karkkainen") == ["news:1"]  # title indexed, accents folded
    assert search(store, "acme") == ["news:1", "news:2"]
    assert search(store, 'anvils" (*') == ["news:1"]  # user input cannot break the syntax

    store.save_batch(SOURCE, [prep("1", "Acme rockets are fast")], None, LATER)

    assert search(store, "anvils") == []
    assert search(store, "karkkainen") == []
    assert search(store, "rockets") == ["news:1"]
    assert store.count_mentions(MentionFilter(search="rockets fast")) == 1
    fts_integrity(store)


def test_scoring_does_not_rewrite_the_fts_index(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep(str(i), f"Acme item {i}") for i in range(3)], None, NOW)

    def fts_pages() -> list[tuple[Any, ...]]:
        return query(store, "SELECT * FROM mentions_fts_data ORDER BY id")

    before = fts_pages()
    changes = store.db.conn.total_changes
    saved = store.save_scores([(p, score()) for p in store.pending_scores(10)], NOW)
    assert saved == 3
    # the three rows, and per row -1/+1 in the hourly and daily counts, for all mentions and
    # for its one brand: no FTS writes
    assert store.db.conn.total_changes - changes == 3 + 3 * 8
    assert fts_pages() == before
    assert store.reset_scores("vader", "1", everything=True) == 3
    assert fts_pages() == before
    assert search(store, "item") == ["news:0", "news:1", "news:2"]

    store.save_batch(SOURCE, [prep("1", "Acme renamed")], None, LATER)  # an edit does
    assert fts_pages() != before
    fts_integrity(store)


# -- reads and export ---------------------------------------------------------------------------


@pytest.fixture
def varied(store: SqliteStore) -> SqliteStore:
    """Five mentions over three days, two sources, both brands, some scored."""
    items = [
        prep("a", "Acme one", published_at=NOW - timedelta(days=2)),
        prep("b", "Globex two", published_at=NOW - timedelta(days=1)),
        prep("c", "Acme and Globex", published_at=NOW - timedelta(hours=1)),
        prep("d", "Acme blog", published_at=NOW - timedelta(hours=2), source_name="blog"),
        prep("e", "Hyvää Acme", published_at=None, language="fi", source_name="blog"),
    ]
    store.save_batch(SOURCE, items, None, NOW)
    pending = {p.id: p for p in store.pending_scores(10)}
    store.save_scores(
        [(pending["news:a"], score("negative")), (pending["news:c"], score("positive")),
         (pending["blog:e"], Score("unscored", None, "vader", "1", "language 'fi'"))],
        NOW,
    )  # fmt: skip
    return store


def ids(rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


def test_export_streams_every_row_with_the_export_columns(varied: SqliteStore) -> None:
    rows = list(varied.export_rows(MentionFilter(), batch=2))
    assert ids(rows) == ["news:a", "news:b", "blog:d", "news:c", "blog:e"]  # oldest first
    for exported in rows:
        assert tuple(exported) == EXPORT_COLUMNS
    by_id = {r["id"]: r for r in rows}
    assert by_id["news:c"]["brands"] == "Acme;Globex"
    assert by_id["news:c"]["sentiment"] == "positive"
    assert by_id["blog:e"]["published_at"] is None
    assert by_id["blog:e"]["collected_at"] == "2026-11-25T12:00:00Z"
    assert by_id["news:a"]["author"] is None
    assert by_id["news:a"]["version"] == 1


@pytest.mark.parametrize(
    ("mf", "expected"),
    [
        (MentionFilter(brands=("Globex",)), ["news:b", "news:c"]),
        (
            MentionFilter(brands=("Acme", "Globex")),
            ["news:a", "news:b", "blog:d", "news:c", "blog:e"],
        ),
        (MentionFilter(sources=("blog",)), ["blog:d", "blog:e"]),
        (MentionFilter(sentiments=("negative", "unscored")), ["news:a", "blog:e"]),
        (MentionFilter(languages=("fi",)), ["blog:e"]),
        (MentionFilter(since=NOW - timedelta(days=1)), ["news:b", "blog:d", "news:c", "blog:e"]),
        (MentionFilter(until=NOW - timedelta(days=1)), ["news:a"]),
        (
            MentionFilter(since=NOW - timedelta(days=1, hours=1), until=NOW - timedelta(hours=1)),
            ["news:b", "blog:d"],
        ),
        (
            MentionFilter(brands=("Acme",), since=NOW - timedelta(days=1)),
            ["blog:d", "news:c", "blog:e"],
        ),
        (MentionFilter(brands=("Acme",), sources=("news",), sentiments=("positive",)), ["news:c"]),
        (MentionFilter(search="blog"), ["blog:d"]),
        (MentionFilter(brands=("Nobody",)), []),
    ],
)
def test_filters(varied: SqliteStore, mf: MentionFilter, expected: list[str]) -> None:
    assert ids(varied.export_rows(mf)) == expected
    assert ids(varied.mentions(mf)) == expected[::-1]  # newest first
    assert varied.count_mentions(mf) == len(expected)
    assert sum(d["mentions"] for d in varied.daily_sentiment(mf)) == len(expected)


def test_mentions_pages_and_daily_sentiment_groups(varied: SqliteStore) -> None:
    page = varied.mentions(MentionFilter(), limit=2, offset=1)
    assert ids(page) == ["news:c", "blog:d"]
    assert page[0]["ts"] == "2026-11-25T11:00:00Z"
    daily = varied.daily_sentiment(MentionFilter())
    assert [d["day"] for d in daily] == sorted(d["day"] for d in daily)
    assert sorted(daily, key=lambda d: (d["day"], d["sentiment"])) == [
        {"day": "2026-11-23", "sentiment": "negative", "mentions": 1},
        {"day": "2026-11-24", "sentiment": "pending", "mentions": 1},
        {"day": "2026-11-25", "sentiment": "pending", "mentions": 1},
        {"day": "2026-11-25", "sentiment": "positive", "mentions": 1},
        {"day": "2026-11-25", "sentiment": "unscored", "mentions": 1},
    ]
    assert varied.distinct_values("brand") == ["Acme", "Globex"]
    assert varied.distinct_values("source_name") == ["blog", SOURCE]
