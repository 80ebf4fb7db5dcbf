"""The X collector through the pipeline, with a real store."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from datetime import timedelta
from pathlib import Path

import pytest

from collectors.x import XCollector, XConfig
from kuulo.pipeline import Runtime, collect_source, prepare_batch
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, SqliteStore
from tests import support
from tests.collectors.x_support import (
    EPOCH,
    NEW_ID,
    NOW,
    PAGE1_IDS,
    PAGE2_IDS,
    PIPELINE_TOKEN,
    TOKEN_1,
    WINDOW_OK,
    Answer,
    FakeX,
    context,
    fixture,
    since,
    two_pages,
)
from tests.support import fixed_runtime, opened

# -- through the pipeline, with a real store ----------------------------------------------------


def write_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    return support.write_config(
        tmp_path,
        f"""
[http]
retries = 0
backoff_factor = 0
connect_timeout = 2
read_timeout = 5

[[brands]]
name = "Acme"
query = '(Acme OR @acme) -"acme road"'

[[sources]]
name = "x-acme"
kind = "x"
every = "15m"
bearer_token = {{ "$env" = "KUULO_X_BEARER_TOKEN" }}
base_url = "{base_url}"
{extra}
""",
    )


def runtime(tmp_path: Path, fake: FakeX, token: str = PIPELINE_TOKEN) -> Runtime:
    environ = {"KUULO_X_BEARER_TOKEN": token} if token else {}
    return fixed_runtime(write_config(tmp_path, fake.base_url), NOW, environ)


def stored_ids(store: SqliteStore) -> list[str]:
    rows = store.db.execute("SELECT native_id FROM mentions ORDER BY native_id DESC").fetchall()
    return [r[0] for r in rows]


def test_the_pipeline_stores_mentions_and_the_cursor(tmp_path: Path, fake_x: FakeX) -> None:
    two_pages(fake_x)
    rt = runtime(tmp_path, fake_x)
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["x-acme"])
        rows = {r["native_id"]: r for r in store.export_rows(MentionFilter())}
        state = store.source_state("x-acme")

    assert (outcome.status, outcome.new, outcome.skip_reasons) == ("ok", 5, [])
    assert fake_x.auth[0] == f"Bearer {PIPELINE_TOKEN}"
    assert set(rows) == set(PAGE1_IDS + PAGE2_IDS)
    anvil = rows[PAGE1_IDS[0]]
    assert (anvil["author_handle"], anvil["author_followers"], anvil["likes"]) == (
        "wile_e", 2890001, 214,
    )  # fmt: skip
    assert anvil["url"] == f"https://x.com/wile_e/status/{PAGE1_IDS[0]}"
    assert anvil["brands"] == "Acme"
    assert rows[PAGE1_IDS[2]]["text"].endswith("isn't answering & I'm done.")
    assert state is not None
    assert since(state.cursor) == PAGE1_IDS[0]


def test_the_cursor_does_not_advance_when_page_two_fails(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.on(None, "search_page1.json").on(TOKEN_1, "error_503.json", 503)
    rt = runtime(tmp_path, fake_x)
    with opened(rt) as store:
        failed = collect_source(store, rt, rt.sources["x-acme"])
        state = store.source_state("x-acme")
        assert failed.status == "error"
        assert "HTTP 503" in (failed.error or "")
        assert stored_ids(store) == PAGE1_IDS  # page 1 is kept
        assert state is not None
        assert since(state.cursor) is None  # but the poll did not complete
        assert state.cursor is not None
        assert state.cursor["reads"]["posts"] == 3

        two_pages(fake_x)
        assert collect_source(store, rt, rt.sources["x-acme"]).status == "ok"
        assert stored_ids(store) == PAGE1_IDS + PAGE2_IDS
        state = store.source_state("x-acme")
        assert state is not None
        assert since(state.cursor) == PAGE1_IDS[0]
    assert "start_time" in fake_x.calls[-1]  # the retry re-read the whole window


def test_a_crash_between_pages_loses_and_duplicates_nothing(tmp_path: Path, fake_x: FakeX) -> None:
    two_pages(fake_x)
    rt = runtime(tmp_path, fake_x)
    source = rt.sources["x-acme"]
    with opened(rt) as store:
        # the first run stores page 1, then the process dies before asking for page 2
        x = XCollector(source.config, context())  # type: ignore[arg-type]
        pages = x.collect(None)
        assert isinstance(pages, Generator)
        first = next(pages)
        kept, _ = prepare_batch(first, rt.brands, source.settings)
        store.save_batch("x-acme", kept, first.cursor, NOW)
        pages.close()

        # meanwhile a new post arrives; the restarted run sees it plus both old pages
        grown = _prepend(fixture("search_page1.json"), "search_new.json")
        fake_x.answers[None] = Answer(grown, 200, {**WINDOW_OK, "x-rate-limit-reset": "0"})
        outcome = collect_source(store, rt, source)

        assert outcome.status == "ok"
        assert (outcome.new, outcome.unchanged) == (3, 3)
        assert stored_ids(store) == sorted([NEW_ID, *PAGE1_IDS, *PAGE2_IDS], reverse=True)
        rows = store.db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
        assert rows[0] == rows[1] == 6
        state = store.source_state("x-acme")
        assert state is not None
        assert since(state.cursor) == NEW_ID


def _prepend(page: bytes, name: str) -> bytes:
    """Page 1 as X would serve it once a newer post exists: that post first."""
    first, extra = json.loads(page), json.loads(fixture(name))
    first["data"] = extra["data"] + first["data"]
    first["includes"]["users"] += extra["includes"]["users"]
    first["meta"]["newest_id"] = extra["meta"]["newest_id"]
    first["meta"]["result_count"] += 1
    return json.dumps(first).encode()


def test_a_429_pauses_only_this_source(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.on(None, "error_429.json", 429, headers={"x-rate-limit-reset": str(EPOCH + 600)})
    rt = runtime(tmp_path, fake_x)
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["x-acme"])
        state = store.source_state("x-acme")
    assert outcome.status == "paused"  # a planned pause, not a failure
    assert state is not None
    assert state.failures == 0
    assert state.paused_until == NOW + timedelta(seconds=600)
    assert state.cursor is not None
    assert state.cursor["rate_limit"] == {"remaining": 0, "reset": EPOCH + 600}


def test_the_token_never_reaches_errors_or_logs(
    tmp_path: Path, fake_x: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # tweepy logs request headers at DEBUG
    rt = runtime(tmp_path, fake_x)
    with opened(rt) as store:
        for name, status in [("error_401.json", 401), ("error_403.json", 403)]:
            fake_x.on(None, name, status)
            outcome = collect_source(store, rt, rt.sources["x-acme"])
            assert PIPELINE_TOKEN not in (outcome.error or "")
        two_pages(fake_x)
        collect_source(store, rt, rt.sources["x-acme"])
        errors = store.db.execute("SELECT error FROM runs").fetchall()
    assert "Bearer [redacted]" in caplog.text  # tweepy's debug line was there, masked
    assert PIPELINE_TOKEN not in caplog.text
    assert all(PIPELINE_TOKEN not in (e or "") for (e,) in errors)


def test_a_missing_token_disables_the_source_with_help(tmp_path: Path, fake_x: FakeX) -> None:
    settings = load_settings(write_config(tmp_path, fake_x.base_url), environ={})
    [source] = settings.resolved_sources()
    assert source.disabled_reason is not None
    assert source.disabled_reason.startswith(
        "disabled: set the environment variable KUULO_X_BEARER_TOKEN"
    )
    assert "developer.x.com" in source.disabled_reason
    assert "pay-per-use" in source.disabled_reason


def test_every_option_can_be_written_in_toml(tmp_path: Path, fake_x: FakeX) -> None:
    extra = """backfill = "3d"
exclude_retweets = false
languages = ["en", "fi"]
max_pages = 3
monthly_read_budget = 15000
"""
    settings = load_settings(
        write_config(tmp_path, fake_x.base_url, extra),
        environ={"KUULO_X_BEARER_TOKEN": PIPELINE_TOKEN},
    )
    [source] = settings.resolved_sources()
    config = source.config
    assert isinstance(config, XConfig)
    assert config.backfill == timedelta(days=3)
    assert (config.exclude_retweets, config.languages, config.max_pages) == (
        False, ("en", "fi"), 3,
    )  # fmt: skip
    assert config.monthly_read_budget == 15000
    assert config.bearer_token.get_secret_value() == PIPELINE_TOKEN
    assert PIPELINE_TOKEN not in repr(config)
