"""The SQLite store against real files: schema, upserts, cursors, run log, scores, FTS, export.

These are the contract tests a second backend must also pass (see ``kuulo/store/__init__.py``).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuulo.matching import Brand, BrandQuery
from kuulo.model import Mention, Score
from kuulo.normalise import Prepared, prepare
from kuulo.store import MentionFilter, RunOutcome, SqliteStore, open_store
from kuulo.store.migrations import migrations
from kuulo.store.queries import EXPORT_COLUMNS

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
BRANDS = [Brand("Acme", BrandQuery("Acme OR @acme")), Brand("Globex", BrandQuery("Globex"))]
SOURCE = "news"


# -- helpers ------------------------------------------------------------------------------------


def mention(native_id: str, text: str, **fields: Any) -> Mention:
    fields.setdefault("language", "en")  # skips language detection: fast and deterministic
    fields.setdefault("published_at", NOW - timedelta(hours=1))
    fields.setdefault("source_name", SOURCE)
    return Mention(
        source="rss", native_id=native_id, url=f"https://news.example/{native_id}", text=text,
        **fields,
    )  # fmt: skip


def prep(native_id: str, text: str, **fields: Any) -> Prepared:
    return prepare(mention(native_id, text, **fields), BRANDS)


def open_sqlite(path: Path) -> SqliteStore:
    store = open_store(path)
    assert isinstance(store, SqliteStore)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with open_sqlite(tmp_path / "kuulo.db") as s:
        s.sync_sources([(SOURCE, "rss"), ("blog", "rss")], NOW)
        yield s


def query(store: SqliteStore, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return store.db.execute(sql, list(params)).fetchall()


def row(store: SqliteStore, key: str) -> dict[str, Any]:
    cur = store.db.execute("SELECT * FROM mentions WHERE id = ?", [key])
    names = [d[0] for d in cur.description]
    found = cur.fetchone()
    assert found is not None, f"no mention {key}"
    return dict(zip(names, found, strict=True))


def brand_links(store: SqliteStore) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in query(store, "SELECT mention_id, brand FROM mention_brands")}


def search(store: SqliteStore, words: str) -> list[str]:
    return sorted(r["id"] for r in store.mentions(MentionFilter(search=words), limit=10_000))


def fts_integrity(store: SqliteStore) -> None:
    """Raises if the external-content FTS index disagrees with the mentions table."""
    store.db.execute("INSERT INTO mentions_fts(mentions_fts, rank) VALUES ('integrity-check', 1)")


def score(label: str = "negative", model: str = "vader", version: str = "1") -> Score:
    return Score(label, -0.5 if label == "negative" else 0.5, model, version)  # type: ignore[arg-type]


def other_connection(path: Path, timeout: float = 0.0) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)


# -- schema and connection ---------------------------------------------------------------------


def test_migrations_build_the_schema_and_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "new" / "kuulo.db"
    with open_sqlite(path) as store:
        assert {"mentions", "mention_brands", "sources", "runs", "mentions_fts"} <= set(
            store.db.table_names()
        )
        assert migrations.pending(store.db) == []
        applied = query(store, "SELECT name, applied_at FROM _sqlite_migrations")
        assert [a[0] for a in applied] == [m.name for m in migrations._migrations]
        store.sync_sources([(SOURCE, "rss")], NOW)
        store.save_batch(SOURCE, [prep("1", "Acme news")], None, NOW)
    for _ in range(2):
        with open_sqlite(path) as store:
            assert query(store, "SELECT name, applied_at FROM _sqlite_migrations") == applied
            assert store.count_mentions(MentionFilter()) == 1


def test_connection_uses_wal_a_busy_timeout_and_foreign_keys(store: SqliteStore) -> None:
    assert query(store, "PRAGMA journal_mode") == [("wal",)]
    assert query(store, "PRAGMA busy_timeout")[0][0] >= 5000
    assert query(store, "PRAGMA foreign_keys") == [(1,)]
    assert query(store, "PRAGMA synchronous") == [(1,)]  # NORMAL


def test_read_only_store_cannot_write(store: SqliteStore) -> None:
    with open_store(store.path, read_only=True) as reader:
        assert isinstance(reader, SqliteStore)
        assert reader.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.sync_sources([("x", "rss")], NOW)


def test_new_database_opened_by_several_processes_at_once(tmp_path: Path) -> None:
    """Each opener switches to WAL and migrates; the late ones must wait, not fail."""
    for attempt in range(5):
        path = tmp_path / str(attempt) / "kuulo.db"
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                open_store(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with open_sqlite(path) as store:
            assert len(query(store, "SELECT * FROM _sqlite_migrations")) == len(
                migrations._migrations
            )
            assert query(store, "PRAGMA journal_mode") == [("wal",)]


def test_write_takes_the_write_lock_at_begin(store: SqliteStore) -> None:
    other = other_connection(store.path)
    with store.write() as conn:
        assert conn.in_transaction
        # Nothing written yet: only BEGIN IMMEDIATE (not a deferred BEGIN) holds the lock now.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    assert not store.db.conn.in_transaction
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_a_writer_waits_for_another_writer_then_succeeds(store: SqliteStore) -> None:
    other = other_connection(store.path)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE sources SET failures = 7 WHERE name = 'blog'")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    counts = store.save_batch(SOURCE, [prep("1", "Acme news")], {"etag": "a"}, NOW)
    waited = time.monotonic() - started
    release.join()
    other.close()
    assert waited >= 0.25
    assert counts.new == 1
    assert store.count_mentions(MentionFilter()) == 1
    assert query(store, "SELECT failures FROM sources WHERE name = 'blog'") == [(7,)]


def test_error_that_ends_the_transaction_itself_is_reported_as_is(store: SqliteStore) -> None:
    """SQLite rolls back by itself on an interrupt (also disk full, I/O errors): the original
    error must surface, not "cannot rollback - no transaction is active"."""
    fired: list[bool] = []

    def interrupt_once() -> int:
        if fired:
            return 0
        fired.append(True)
        return 1

    def interrupted_write() -> None:
        with store.write() as conn:
            conn.execute("UPDATE sources SET failures = 5")
            conn.set_progress_handler(interrupt_once, 1)
            conn.execute("UPDATE sources SET failures = 6")

    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        interrupted_write()
    store.db.conn.set_progress_handler(None, 1)
    assert not store.db.conn.in_transaction
    assert query(store, "SELECT DISTINCT failures FROM sources") == [(0,)]
    store.save_batch(SOURCE, [prep("1", "Acme")], None, NOW)  # the next write works


def test_failed_commit_releases_the_write_lock(store: SqliteStore) -> None:
    def unchecked_write() -> None:
        with store.write() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
            conn.execute("INSERT INTO mention_brands VALUES ('none', 'Acme', 'x')")

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        unchecked_write()
    assert not store.db.conn.in_transaction
    other = other_connection(store.path)
    other.execute("BEGIN IMMEDIATE")  # would be "database is locked" if the lock were kept
    other.execute("ROLLBACK")
    other.close()
    assert query(store, "SELECT count(*) FROM mention_brands") == [(0,)]


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


# -- sources and the run log ------------------------------------------------------------------


def run_row(store: SqliteStore, run_id: int) -> dict[str, Any]:
    cur = store.db.execute("SELECT * FROM runs WHERE id = ?", [run_id])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_a_run_records_its_counts_and_summarised_skip_reasons(store: SqliteStore) -> None:
    run_id = store.start_run(SOURCE, NOW)
    assert run_row(store, run_id)["status"] == "running"
    assert store.source_state(SOURCE).last_run_at == NOW  # type: ignore[union-attr]
    outcome = RunOutcome(
        fetched=7, new=3, updated=1, unchanged=1,
        skip_reasons=["no brand", "no id", "no brand", "no brand"],
    )  # fmt: skip
    store.finish_run(run_id, SOURCE, outcome, now=LATER, next_due=LATER + timedelta(minutes=15))

    logged = run_row(store, run_id)
    assert logged["status"] == "ok"
    assert logged["finished_at"] == "2026-11-25T14:00:00Z"
    assert (logged["fetched"], logged["new"], logged["updated"], logged["unchanged"]) == (
        7,
        3,
        1,
        1,
    )
    assert logged["skipped"] == 4
    assert json.loads(logged["skip_reasons"]) == ["no brand (x3)", "no id (x1)"]
    assert logged["error"] is None
    state = store.source_state(SOURCE)
    assert state is not None
    assert state.last_ok_at == LATER
    assert state.next_due == LATER + timedelta(minutes=15)
    assert state.failures == 0
    [status] = [s for s in store.source_status() if s["name"] == SOURCE]
    assert (status["last_status"], status["fetched"], status["new"]) == ("ok", 7, 3)


def test_failures_count_up_on_errors_and_reset_on_success(store: SqliteStore) -> None:
    def finish(outcome: RunOutcome, at: datetime) -> None:
        run_id = store.start_run(SOURCE, at)
        store.finish_run(run_id, SOURCE, outcome, now=at, next_due=at)

    finish(RunOutcome(status="error", error="HTTP 500"), NOW)
    finish(RunOutcome(status="error", error="HTTP 502"), LATER)
    state = store.source_state(SOURCE)
    assert state is not None
    assert (state.failures, state.last_error, state.last_ok_at) == (2, "HTTP 502", None)
    assert query(store, "SELECT last_error_at FROM sources WHERE name = ?", [SOURCE]) == [
        ("2026-11-25T14:00:00Z",)
    ]

    finish(RunOutcome(status="not_modified"), LATER + timedelta(hours=1))
    state = store.source_state(SOURCE)
    assert state is not None
    assert (state.failures, state.last_error) == (0, None)
    assert state.last_ok_at == LATER + timedelta(hours=1)
    assert store.source_state("blog").failures == 0  # type: ignore[union-attr]


def test_due_sources_respects_next_due_and_paused_until(store: SqliteStore) -> None:
    store.sync_sources([("late", "rss"), ("paused", "rss")], NOW)
    assert set(store.due_sources(NOW)) == {"blog", "late", SOURCE, "paused"}
    for name, next_due, paused in (
        ("late", NOW + timedelta(minutes=10), None),
        ("paused", NOW - timedelta(minutes=1), NOW + timedelta(hours=1)),
        (SOURCE, NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)),  # pause over
    ):
        run_id = store.start_run(name, NOW)
        store.finish_run(
            run_id, name, RunOutcome(), now=NOW, next_due=next_due, paused_until=paused
        )
    assert store.due_sources(NOW) == [SOURCE, "blog"]  # oldest next_due first
    assert set(store.due_sources(NOW + timedelta(minutes=10))) == {SOURCE, "blog", "late"}
    assert set(store.due_sources(NOW + timedelta(hours=1))) == {SOURCE, "blog", "late", "paused"}


def test_sync_sources_keeps_the_schedule_of_known_sources(store: SqliteStore) -> None:
    run_id = store.start_run(SOURCE, NOW)
    store.finish_run(run_id, SOURCE, RunOutcome(), now=NOW, next_due=LATER)
    store.save_batch(SOURCE, [], {"etag": "e"}, NOW)
    store.sync_sources([(SOURCE, "google_news")], LATER + timedelta(days=1))
    state = store.source_state(SOURCE)
    assert state is not None
    assert (state.kind, state.next_due, state.cursor) == ("google_news", LATER, {"etag": "e"})


# -- scores -------------------------------------------------------------------------------------


def test_pending_save_and_reset_scores(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep(str(i), f"Acme number {i}") for i in range(3)], None, NOW)
    pending = store.pending_scores(10)
    assert sorted(p.id for p in pending) == ["news:0", "news:1", "news:2"]
    assert store.count_pending() == 3
    assert len(store.pending_scores(2)) == 2
    by_id = {p.id: p for p in pending}

    saved = store.save_scores(
        [(by_id["news:0"], score("negative", version="1")),
         (by_id["news:1"], score("positive", version="2"))],
        NOW,
    )  # fmt: skip
    assert saved == 2
    assert [p.id for p in store.pending_scores(10)] == ["news:2"]
    first = row(store, "news:0")
    assert (first["sentiment"], first["sentiment_score"], first["sentiment_model"]) == (
        "negative", -0.5, "vader",
    )  # fmt: skip
    assert (first["sentiment_version"], first["scored_at"]) == ("1", "2026-11-25T12:00:00Z")

    assert store.reset_scores("vader", "2") == 1  # only the one scored by another version
    assert sorted(p.id for p in store.pending_scores(10)) == ["news:0", "news:2"]
    assert store.reset_scores("vader", "2", everything=True) == 1
    assert store.count_pending() == 3


def test_a_score_for_a_row_edited_since_it_was_read_is_dropped(store: SqliteStore) -> None:
    store.save_batch(SOURCE, [prep("1", "Acme one"), prep("2", "Acme two")], None, NOW)
    pending = {p.id: p for p in store.pending_scores(10)}
    store.save_batch(SOURCE, [prep("1", "Acme one, edited")], None, LATER)

    saved = store.save_scores([(p, score("negative")) for p in pending.values()], LATER)

    assert saved == 1
    assert row(store, "news:1")["sentiment"] is None
    assert row(store, "news:2")["sentiment"] == "negative"
    [again] = store.pending_scores(10)
    assert (again.id, again.version, again.text) == ("news:1", 2, "Acme one, edited")


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
    assert store.db.conn.total_changes - changes == 3  # the three rows, no trigger writes
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
