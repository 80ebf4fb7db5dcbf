"""The Reddit collector through the pipeline, with a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Response

from collectors.reddit_http import CREDENTIAL_HELP
from kuulo.model import Cursor
from kuulo.pipeline import Runtime, collect_source
from kuulo.store import MentionFilter, SqliteStore
from tests.collectors.reddit_support import (
    ACME_QUERY,
    CLIENT_ID,
    NOW,
    PAGE_1,
    PAGE_2,
    SECRET,
    USER_AGENT,
    FakeReddit,
)
from tests.support import fixed_runtime, opened, write_config

pytestmark = pytest.mark.usefixtures("_no_real_reddit")


# -- through the pipeline, with a real SQLite store ----------------------------------------------

ENVIRON = {"KUULO_REDDIT_CLIENT_ID": CLIENT_ID, "KUULO_REDDIT_CLIENT_SECRET": SECRET}


def runtime(tmp_path: Path, url: str, environ: dict[str, str] = ENVIRON) -> Runtime:
    config = write_config(
        tmp_path,
        f"""
[http]
retries = 0
connect_timeout = 2
read_timeout = 5

[[brands]]
name = "Acme"
query = '{ACME_QUERY}'

[[sources]]
name = "reddit"
kind = "reddit"
every = "15m"
client_id = {{ "$env" = "KUULO_REDDIT_CLIENT_ID" }}
client_secret = {{ "$env" = "KUULO_REDDIT_CLIENT_SECRET" }}
user_agent = "{USER_AGENT}"
base_url = "{url}"
auth_url = "{url}"
""",
    )
    return fixed_runtime(config, NOW, environ)


def stored_ids(store: SqliteStore) -> list[str]:
    return sorted(r["native_id"] for r in store.export_rows(MentionFilter()))


def assert_cursor_not_ahead(store: SqliteStore) -> None:
    """Every fullname the cursor claims, and its newest second, is in the database."""
    state = store.source_state("reddit")
    assert state is not None
    rows = list(store.export_rows(MentionFilter()))
    for brand_mark in ((state.cursor or {}).get("brands") or {}).values():
        assert set(brand_mark["ids"]) <= {r["native_id"] for r in rows}
        newest = max(datetime.fromisoformat(r["published_at"]) for r in rows)
        assert brand_mark["created"] <= newest.timestamp()


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing catches it."""


def test_pipeline_stores_mentions_then_only_new_ones(tmp_path: Path, reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        first = collect_source(store, rt, rt.sources["reddit"])
        assert (first.status, first.error, first.new, first.fetched) == ("ok", None, 4, 4)
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        row = next(r for r in store.export_rows(MentionFilter()) if r["native_id"] == "t3_p1a")
        engagement = (row["source"], row["brands"], row["likes"], row["replies"])
        assert engagement == ("reddit", "Acme", 42, 7)
        assert row["published_at"] == "2026-11-25T11:00:00Z"
        assert_cursor_not_ahead(store)

        reddit.server.clear()
        FakeReddit(reddit.server).listing("/r/all/search/", {None: "search_poll2.json"})
        second = collect_source(store, rt, rt.sources["reddit"])
        assert (second.status, second.new, second.fetched) == ("ok", 2, 2)
        assert stored_ids(store) == sorted(
            ["t3_n1", "t3_same", "t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        )
        assert_cursor_not_ahead(store)


def test_a_crash_between_pages_then_a_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        real_save = store.save_batch
        saved: list[Cursor | None] = []

        def dying_save(name: str, items: Any, cursor: Cursor | None, now: datetime) -> Any:
            if saved:  # page 2 was fetched, but the process dies before storing it
                raise Crash
            saved.append(cursor)
            return real_save(name, items, cursor, now)

        monkeypatch.setattr(store, "save_batch", dying_save)
        with pytest.raises(Crash):
            collect_source(store, rt, rt.sources["reddit"])
        assert saved == [None]
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c"]
        state = store.source_state("reddit")
        assert state is not None
        assert state.cursor is None  # never ahead of what is stored

    with opened(rt) as store:  # the restarted process
        rerun = collect_source(store, rt, rt.sources["reddit"])
        assert (rerun.status, rerun.new, rerun.unchanged) == ("ok", 1, 3)
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        count = store.db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
        assert tuple(count) == (4, 4)
        assert_cursor_not_ahead(store)


def test_pipeline_429_pauses_only_for_the_reset_seconds(tmp_path: Path, reddit: FakeReddit) -> None:
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "120"}
    reddit.answer("/r/all/search/", lambda r: Response("Too Many Requests", 429, headers=spent))
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["reddit"])
        state = store.source_state("reddit")
    assert outcome.status == "paused"  # a RateLimited pause, not a failure
    assert "HTTP 429" in (outcome.error or "")
    assert state is not None
    assert state.paused_until == NOW + timedelta(seconds=120)  # seconds to go, not epoch 120


def test_missing_credentials_disable_the_source_with_help(
    tmp_path: Path, reddit: FakeReddit
) -> None:
    rt = runtime(tmp_path, reddit.url, environ={})
    reason = rt.sources["reddit"].disabled_reason
    assert reason is not None
    assert "KUULO_REDDIT_CLIENT_ID" in reason
    assert CREDENTIAL_HELP in reason
