"""The SQLite store: upserts, order-independence and the cursor saved with the rows."""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuulo.model import Mention
from kuulo.normalise import Prepared, prepare
from kuulo.store import SqliteStore
from tests.kuulo.store.store_support import (
    BRANDS,
    LATER,
    NOW,
    SOURCE,
    brand_links,
    fts_integrity,
    open_sqlite,
    prep,
    query,
    row,
    score,
    search,
)

# -- upserts --------------------------------------------------------------------------------------


def test_saving_the_same_mentions_twice_gives_one_row_each(store: SqliteStore) -> None:
    batch = [prep("1", "Acme and Globex"), prep("2", "Only @acme here")]
    first = store.save_batch(SOURCE, batch, None, NOW)
    second = store.save_batch(SOURCE, batch, None, LATER)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
    assert query(
        store, "SELECT id, version, collected_at, updated_at FROM mentions ORDER BY id"
    ) == [
        ("news:1", 1, "2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z"),
        ("news:2", 1, "2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z"),
    ]
    assert brand_links(store) == {("news:1", "Acme"), ("news:1", "Globex"), ("news:2", "Acme")}


def test_the_same_key_twice_in_one_batch_keeps_the_later_copy(store: SqliteStore) -> None:
    counts = store.save_batch(SOURCE, [prep("1", "Acme old"), prep("1", "Acme new")], None, NOW)
    assert (counts.new, counts.updated) == (1, 0)
    assert row(store, "news:1")["text"] == "Acme new"


def test_an_edit_updates_the_row_bumps_version_and_clears_sentiment(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme anvils are heavy", likes=1)], None, NOW)
    [pending] = store.pending_scores(10)
    assert store.save_scores([(pending, score("negative"))], NOW) == 1
    assert row(store, "news:1")["sentiment"] == "negative"

    edited = prep("1", "Acme anvils are light now", likes=2, title="Update")
    counts = store.save_batch(SOURCE, [edited], None, LATER)

    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    saved = row(store, "news:1")
    assert saved["text"] == "Acme anvils are light now"
    assert saved["title"] == "Update"
    assert saved["likes"] == 2
    assert saved["version"] == 2
    assert saved["content_hash"] == edited.content_hash
    assert saved["collected_at"] == "2026-11-25T12:00:00Z"  # first seen stays
    assert saved["updated_at"] == "2026-11-25T14:00:00Z"
    for column in ("sentiment", "sentiment_score", "sentiment_model", "sentiment_version",
                   "sentiment_reason", "scored_at"):  # fmt: skip
        assert saved[column] is None, column
    assert [p.id for p in store.pending_scores(10)] == ["news:1"]
    assert store.pending_scores(10)[0].version == 2


def test_changed_engagement_alone_is_not_an_edit(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme rocks", likes=1, replies=None)], None, NOW)
    [pending] = store.pending_scores(10)
    store.save_scores([(pending, score("positive"))], NOW)

    counts = store.save_batch(
        SOURCE, [prep("1", "Acme rocks", likes=5, replies=2, author_followers=90)], None, LATER
    )

    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    saved = row(store, "news:1")
    assert (saved["likes"], saved["replies"], saved["author_followers"]) == (5, 2, 90)
    assert saved["version"] == 1
    assert saved["sentiment"] == "positive"
    assert store.count_pending() == 0


def test_an_edit_replaces_the_brand_links(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme beats Globex")], None, NOW)
    assert brand_links(store) == {("news:1", "Acme"), ("news:1", "Globex")}
    moved = NOW - timedelta(days=3)
    store.save_batch(SOURCE, [prep("1", "Globex alone", published_at=moved)], None, LATER)
    assert brand_links(store) == {("news:1", "Globex")}
    ts = row(store, "news:1")["ts"]
    assert ts == "2026-11-22T12:00:00Z"
    assert query(store, "SELECT ts FROM mention_brands") == [(ts,)]


def test_a_mention_without_a_date_is_timed_by_collection(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme", published_at=None)], None, NOW)
    saved = row(store, "news:1")
    assert saved["published_at"] is None
    assert saved["ts"] == saved["collected_at"] == "2026-11-25T12:00:00Z"


# -- property: order, batching and repeats do not matter -------------------------------------

WORDS = [
    *("Acme", "@acme", "#acme", "<b>Acme</b>", "Globex", "Kärkkäinen", "hyvää", "päivää", "Åbo"),
    *("naïve", "café", "Straße", "🚀", "👍🏽", "東京", "Ωmega", "e\u0301", "&amp;"),
]
UNICODE = st.text(st.characters(codec="utf-8"), max_size=12)  # utf-8: no lone surrogates
TEXT = st.lists(st.one_of(st.sampled_from(WORDS), UNICODE), min_size=1, max_size=6).map(" ".join)
WHEN = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def mention_lists(draw: st.DrawFn) -> list[Mention]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(["news", "blog"]), UNICODE.filter(bool)),
            min_size=1,
            max_size=20,
            unique=True,
        )
    )
    return [
        Mention(
            source="rss",
            source_name=source_name,
            native_id=native_id,
            url=f"https://example.com/{len(native_id)}",
            text=draw(TEXT),
            title=draw(st.none() | TEXT),
            published_at=draw(WHEN),
            author_name=draw(st.none() | UNICODE),
            language=draw(st.sampled_from([None, "en", "fi"])),
            likes=draw(st.none() | st.integers(0, 10**9)),
            raw={"id": native_id, "tags": draw(st.lists(UNICODE, max_size=2))},
        )
        for source_name, native_id in keys
    ]


def batches(items: list[Prepared], data: st.DataObject) -> list[list[Prepared]]:
    """``items`` cut into consecutive batches at random points (an empty batch included)."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in pairwise(bounds)]


def snapshot(store: SqliteStore) -> dict[str, Any]:
    fts_integrity(store)
    return {
        "mentions": query(store, "SELECT * FROM mentions ORDER BY id"),
        "brands": query(store, "SELECT * FROM mention_brands ORDER BY mention_id, brand"),
        "search": {w: search(store, w) for w in ("acme", "karkkainen", "cafe", "globex")},
    }


@settings(max_examples=25, deadline=None)
@given(items=mention_lists(), data=st.data())
def test_any_order_batching_and_repeats_give_the_same_database(
    items: list[Mention], data: st.DataObject
) -> None:
    prepared = [prepare(m, BRANDS) for m in items]
    with tempfile.TemporaryDirectory() as tmp:
        with open_sqlite(Path(tmp) / "a.db") as a:
            for batch in batches(prepared, data):
                a.save_batch(SOURCE, batch, None, NOW)
            expected = snapshot(a)
        with open_sqlite(Path(tmp) / "b.db") as b:
            for _ in range(2):
                for batch in batches(data.draw(st.permutations(prepared)), data):
                    b.save_batch(SOURCE, batch, None, NOW)
            assert snapshot(b) == expected
    assert [r[0] for r in expected["mentions"]] == sorted(m.key for m in items)
    assert {r[0] for r in expected["brands"]} == {p.mention.key for p in prepared if p.brands}


# -- cursor -----------------------------------------------------------------------------------


def test_the_cursor_is_saved_with_the_rows(store: SqliteStore) -> None:
    assert store.source_state(SOURCE).cursor is None  # type: ignore[union-attr]
    store.save_batch(SOURCE, [prep("1", "Acme")], {"etag": "x"}, NOW)
    assert store.source_state(SOURCE).cursor == {"etag": "x"}  # type: ignore[union-attr]
    store.save_batch(SOURCE, [prep("2", "Acme")], None, NOW)
    assert store.source_state(SOURCE).cursor == {"etag": "x"}  # type: ignore[union-attr]
    store.save_batch(SOURCE, [], {"etag": "y", "n": [1]}, NOW)
    assert store.source_state(SOURCE).cursor == {"etag": "y", "n": [1]}  # type: ignore[union-attr]
    assert store.source_state("blog").cursor is None  # type: ignore[union-attr]
    assert store.source_state("missing") is None


def _lone_surrogate(good: Prepared) -> Prepared:
    return dataclasses.replace(good, text="Acme \ud800 broken")  # sqlite3 cannot encode it


def _null_url(good: Prepared) -> Prepared:
    broken = dataclasses.replace(good.mention, url=None)  # type: ignore[arg-type]
    return dataclasses.replace(good, mention=broken)


@pytest.mark.parametrize("spoil", [_lone_surrogate, _null_url], ids=["surrogate", "not-null"])
def test_a_failed_batch_changes_neither_rows_nor_cursor(store: SqliteStore, spoil: Any) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme first")], {"etag": "1"}, NOW)
    before = query(store, "SELECT * FROM mentions")
    good, bad = prep("2", "Acme zebra"), spoil(prep("3", "Acme third"))
    edit = prep("1", "Acme first, edited")
    with pytest.raises((sqlite3.Error, UnicodeEncodeError)):
        store.save_batch(SOURCE, [edit, good, bad], {"etag": "2"}, LATER)
    assert not store.db.conn.in_transaction
    assert query(store, "SELECT * FROM mentions") == before
    assert brand_links(store) == {("news:1", "Acme")}
    assert store.source_state(SOURCE).cursor == {"etag": "1"}  # type: ignore[union-attr]
    assert search(store, "zebra") == []
    fts_integrity(store)
