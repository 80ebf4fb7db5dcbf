"""The SQLite store: sources, the run log and sentiment scores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from kuulo.store import RunOutcome, SqliteStore
from tests.kuulo.store.store_support import LATER, NOW, SOURCE, prep, query, row, score

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
