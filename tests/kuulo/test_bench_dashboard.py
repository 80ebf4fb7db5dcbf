"""The dashboard benchmark's seeding and timing, on 2,000 rows (shape only, no timings)."""

from __future__ import annotations

import json
import sqlite3

from kuulo import bench_dashboard as bench
from kuulo.bench import write_results
from kuulo.store import SqliteStore, open_store

ROWS = 2_000


def test_seeds_times_every_page_query_and_writes_the_section(tmp_path):
    path = tmp_path / "dashboard.db"
    figures = bench.measure_dashboard(path, rows=ROWS, repeat=2)

    assert figures["rows"] == ROWS
    assert figures["seed_s"] is not None
    assert set(figures["queries"]) == set(bench.page_queries())
    assert {"inbox_page", "inbox_page_brand", "competitors_share_of_voice"} <= set(
        figures["queries"]
    )
    for name, q in figures["queries"].items():
        assert set(q) == {"p50_ms", "p95_ms", "runs"}, name
        assert 0 <= q["p50_ms"] <= q["p95_ms"], name
        assert q["runs"] == 2, name
    assert len(bench.report(figures)) == 2 + len(figures["queries"])

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"ingest": {"items": 1}}))
    write_results("dashboard", figures, results)
    written = json.loads(results.read_text())
    assert written["ingest"] == {"items": 1}
    assert written["dashboard"]["rows"] == ROWS
    assert written["dashboard"]["queries"]["inbox_page"].keys() >= {"p50_ms", "p95_ms"}


def test_seeded_data_look_like_the_app_wrote_them(tmp_path):
    path = tmp_path / "dashboard.db"
    bench.seed(path, ROWS)
    with open_store(path, read_only=True) as store:
        assert isinstance(store, SqliteStore)
        db = store.db
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == ROWS
        links = db.execute("SELECT count(*) FROM mention_brands").fetchone()[0]
        assert ROWS < links < ROWS * 1.3  # some mentions name two brands
        assert db.execute("SELECT count(DISTINCT source_name) FROM mentions").fetchone()[0] == 8
        # the FTS index was rebuilt and the insert trigger is back
        hits = db.execute(
            "SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH ?", [bench.SEARCH]
        ).fetchone()[0]
        assert (
            hits
            == db.execute(
                "SELECT count(*) FROM mentions WHERE text LIKE ?", [f"%{bench.SEARCH}%"]
            ).fetchone()[0]
        )
        assert hits > 0
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert {"mentions_fts_ai", "idx_mentions_ts", "idx_mention_brands_brand_ts"} <= names
        assert db.execute("SELECT count(*) FROM mention_triage").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_cached_file_is_reused_only_while_its_key_matches(tmp_path):
    path = tmp_path / "dashboard.db"
    assert bench.seeded_database(path, ROWS) is not None
    assert bench.seeded_database(path, ROWS) is None  # cached
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE bench_seed SET key = 'seed-v0'")
    conn.close()
    assert bench.seeded_database(path, ROWS) is not None  # stale key: seeded again


def _grouped(store: SqliteStore, f) -> dict[str, int]:
    """sentiment_counts as a plain GROUP BY (what the one-pass version must equal)."""
    from kuulo.store.inbox import inbox_where

    where, params = inbox_where(f)
    rows = store.db.execute(
        "SELECT coalesce(m.sentiment, 'pending'), count(*) FROM mentions m"
        f" LEFT JOIN mention_triage t ON t.mention_id = m.id{where} GROUP BY m.sentiment",
        params,
    ).fetchall()
    return dict(rows)


def test_one_pass_sentiment_counts_equal_the_group_by(tmp_path):
    path = tmp_path / "dashboard.db"
    bench.seed(path, ROWS)
    with open_store(path) as store:
        assert isinstance(store, SqliteStore)
        filters = list(_filters().values())
        assert store.sentiment_counts(filters[-1]) == {}  # nothing in the future
        for f in filters:
            counts = store.sentiment_counts(f)
            assert counts == _grouped(store, f)
            assert list(counts) == sorted(counts, key=lambda k: (k != "pending", k))
        store.db.execute("UPDATE mentions SET sentiment = 'mixed' WHERE rowid = 3")
        for f in filters:  # an unknown label: the GROUP BY fallback
            assert store.sentiment_counts(f) == _grouped(store, f)
        assert "mixed" in store.sentiment_counts(filters[0])


def _filters():
    from datetime import timedelta

    from kuulo.store import MentionFilter
    from kuulo.store.inbox import InboxFilter

    week = bench.NOW - timedelta(days=7)
    return {
        "all": InboxFilter(),
        "week_new": InboxFilter(MentionFilter(since=week), statuses=("new",)),
        "brand": InboxFilter(MentionFilter(brands=(bench.BRANDS[1],), since=week)),
        "blocked": InboxFilter(blocked=True),
        "empty": InboxFilter(MentionFilter(since=bench.NOW + timedelta(days=1))),
    }


def test_newest_first_pages_of_a_brand_walk_the_ts_index_without_a_sort(tmp_path):
    """inbox() and mentions() with a brand: no fetch-every-mention-of-the-brand-then-sort."""
    from datetime import timedelta

    from kuulo.store import MentionFilter
    from kuulo.store.inbox import InboxFilter
    from tests.kuulo.store.test_query_plans import full_scans, plans

    path = tmp_path / "dashboard.db"
    bench.seed(path, ROWS)
    mf = MentionFilter(brands=(bench.BRANDS[1],), since=bench.NOW - timedelta(days=30))
    with open_store(path, read_only=True) as store:
        assert isinstance(store, SqliteStore)
        for read in (
            lambda s: s.inbox(InboxFilter(mf, statuses=("new",)), limit=200),
            lambda s: s.mentions(mf, limit=200),
        ):
            (sql, details), *_ = plans(store, read)
            # newest first along the ts index, or (one brand) along mention_brands(brand, ts)
            walks = ("SEARCH m USING INDEX idx_mentions_ts", "SEARCH x USING COVERING INDEX")
            assert details[0].startswith(walks), details
            assert not any("FOR ORDER BY" in d for d in details), details
            assert full_scans(details) == [], sql
