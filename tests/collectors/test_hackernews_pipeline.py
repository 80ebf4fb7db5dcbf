"""Hacker News collector through the pipeline with a real store."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from kuulo.pipeline import Runtime, collect_source, sync_sources
from kuulo.store import MentionFilter, SqliteStore, open_store
from tests.collectors.hackernews_support import NOW, NOW_I, FakeAlgolia, hit
from tests.support import ACME_GLOBEX_BRANDS, fixed_runtime, write_config

# -- through the pipeline with a real store ------------------------------------------------------


def make_runtime(tmp_path: Path, server: HTTPServer, hits_per_page: int = 100) -> Runtime:
    config = write_config(
        tmp_path,
        f"""
[http]
retries = 0
backoff_factor = 0
read_timeout = 5
{ACME_GLOBEX_BRANDS}
[[sources]]
name = "hn"
kind = "hackernews"
base_url = "{server.url_for("/").rstrip("/")}"
hits_per_page = {hits_per_page}
backfill = "2d"
""",
    )
    return fixed_runtime(config, NOW)


def stored(store: SqliteStore) -> dict[str, str]:
    return {r["native_id"]: r["brands"] for r in store.export_rows(MentionFilter())}


def keys_are_unique(store: SqliteStore) -> bool:
    total, distinct = store.db.execute(
        "SELECT count(*), count(DISTINCT source_name || ':' || native_id) FROM mentions"
    ).fetchone()
    return bool(total == distinct)


def test_collected_hits_are_stored_linked_and_polled_incrementally(
    tmp_path: Path, fake: FakeAlgolia
) -> None:
    fake.hits = [
        hit("1", NOW_I - 3600, "Acme anvil broke"),
        hit("2", NOW_I - 1800, "Globex and Acme compared"),
        hit("3", NOW_I - 900, "Globex launch"),
        hit("4", NOW_I - 600, "on the acme road again"),  # found by "acme", excluded locally
    ]
    rt = make_runtime(tmp_path, fake.server)
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        first = collect_source(store, rt, rt.sources["hn"])
        assert (first.status, first.new) == ("ok", 3)
        assert stored(store) == {"1": "Acme", "2": "Acme;Globex", "3": "Globex"}

        fake.hits += [hit("5", NOW_I - 600, "Acme at the same second"), hit("6", NOW_I, "Acme")]
        second = collect_source(store, rt, rt.sources["hn"])
        assert (second.status, second.new, second.updated) == ("ok", 2, 0)
        assert set(stored(store)) == {"1", "2", "3", "5", "6"}
        assert keys_are_unique(store)
        state = store.source_state("hn")
        assert state is not None
        assert state.cursor == {
            "brands": {
                "Acme": {"created_at_i": NOW_I, "ids": ["6"]},
                "Globex": {"created_at_i": NOW_I - 900, "ids": ["3"]},
            }
        }


def test_a_crash_between_pages_then_a_rerun_loses_and_repeats_nothing(
    tmp_path: Path, fake: FakeAlgolia
) -> None:
    fake.hits = [hit(str(n), NOW_I - 1000 + n, f"Acme item {n}") for n in range(6)]
    fake.fail_page = 2  # the poll dies after two pages: page 0 is stored, page 1 was in hand
    rt = make_runtime(tmp_path, fake.server, hits_per_page=2)
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        crashed = collect_source(store, rt, rt.sources["hn"])
        assert crashed.status == "error"
        assert "HTTP 500" in (crashed.error or "")
        assert set(stored(store)) == {"5", "4"}
        state = store.source_state("hn")
        assert state is not None
        assert state.cursor is None  # never ahead of stored data

        fake.hits.append(hit("6", NOW_I - 10, "Acme after the crash"))
        rerun = collect_source(store, rt, rt.sources["hn"])
        assert (rerun.status, rerun.new, rerun.unchanged) == ("ok", 5, 2)
        assert set(stored(store)) == {str(n) for n in range(7)}
        assert keys_are_unique(store)
