"""The X collector through the real tweepy client against a loopback X: the happy path and
configuration. Helpers live in ``x_support``; the ``fake_x`` fixture in ``conftest``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from collectors.x import XConfig, build_query
from kuulo.errors import CollectorError
from kuulo.matching import Brand, BrandQuery
from tests.collectors.x_support import (
    ACME,
    GLOBEX,
    NEW_ID,
    NOW,
    PAGE1_IDS,
    PAGE2_IDS,
    TOKEN,
    TOKEN_1,
    FakeX,
    by_id,
    collector,
    run,
    since,
    two_pages,
)

# -- the happy path ---------------------------------------------------------------------------


def test_two_pages_become_mentions_with_authors_metrics_and_urls(
    fake_x: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kuulo.collectors.x-acme")
    batches = run(collector(two_pages(fake_x), monthly_read_budget=15000))

    assert [len(b.mentions) for b in batches] == [3, 2]
    assert all(not b.skipped for b in batches)
    mentions = by_id(batches)
    assert list(mentions) == PAGE1_IDS + PAGE2_IDS
    anvil = mentions[PAGE1_IDS[0]]
    assert anvil.source == "x"
    assert anvil.source_name == "x-acme"
    assert anvil.url == f"https://x.com/wile_e/status/{PAGE1_IDS[0]}"
    assert anvil.text.startswith("Third Acme anvil this month")
    assert anvil.published_at == datetime(2026, 11, 25, 11, 58, 3, tzinfo=UTC)
    assert (anvil.author_name, anvil.author_handle, anvil.author_followers) == (
        "Wile E. Coyote", "wile_e", 2890001,
    )  # fmt: skip
    assert (anvil.likes, anvil.replies, anvil.reposts, anvil.quotes) == (214, 52, 37, 9)
    assert anvil.language == "en"
    assert (anvil.parent_id, anvil.thread_id) == (None, PAGE1_IDS[0])
    assert anvil.raw["tweet"]["id"] == PAGE1_IDS[0]
    assert anvil.raw["author"]["username"] == "wile_e"
    reply = mentions[PAGE2_IDS[0]]
    assert (reply.parent_id, reply.thread_id) == (PAGE1_IDS[2], PAGE1_IDS[2])
    assert (reply.author_handle, reply.author_followers) == ("acme_support", 45210)
    assert mentions[PAGE2_IDS[1]].language == "fi"
    assert mentions[PAGE2_IDS[1]].author_name == "Kaisa Kärkkäinen"
    assert "read 5 posts in 2 requests; 5 posts read in 2026-11 (budget 15000)" in caplog.text


def test_the_request_carries_token_query_fields_and_a_start_time_on_the_first_poll(
    fake_x: FakeX,
) -> None:
    run(collector(two_pages(fake_x)))

    assert fake_x.auth == [f"Bearer {TOKEN}"] * 2
    first, second = fake_x.calls
    assert first["query"] == '((Acme OR @acme) -"acme road") -is:retweet'
    assert first["start_time"] == "2026-11-24T12:00:00Z"  # NOW - 24 h backfill
    assert "since_id" not in first
    assert first["max_results"] == "100"
    assert first["expansions"] == "author_id"
    assert set(first["tweet.fields"].split(",")) >= {
        "created_at", "lang", "public_metrics", "conversation_id", "in_reply_to_user_id",
        "referenced_tweets", "author_id",
    }  # fmt: skip
    assert set(first["user.fields"].split(",")) == {"username", "name", "public_metrics"}
    assert "next_token" not in first
    assert second["next_token"] == TOKEN_1
    assert second["start_time"] == first["start_time"]  # a page repeats its poll's window


def test_since_id_moves_only_with_the_last_page_and_is_used_on_the_next_poll(
    fake_x: FakeX,
) -> None:
    first, last = run(collector(two_pages(fake_x)))
    assert since(first.cursor) is None  # page 1 alone must not skip page 2 after a crash
    assert first.cursor is not None
    assert first.cursor["reads"] == {"month": "2026-11", "posts": 3}
    assert since(last.cursor) == PAGE1_IDS[0]  # the poll's meta.newest_id
    assert last.cursor is not None
    assert last.cursor["reads"] == {"month": "2026-11", "posts": 5}

    fake_x.on(None, "search_new.json")
    [batch] = run(collector(fake_x), last.cursor)

    assert fake_x.calls[-1]["since_id"] == PAGE1_IDS[0]
    assert "start_time" not in fake_x.calls[-1]
    assert [m.native_id for m in batch.mentions] == [NEW_ID]
    assert since(batch.cursor) == NEW_ID
    assert batch.cursor is not None
    assert batch.cursor["reads"]["posts"] == 6


def test_an_empty_result_keeps_the_since_id(fake_x: FakeX) -> None:
    fake_x.on(None, "search_empty.json")
    cursor = {"brands": {"Acme": {"since_id": PAGE1_IDS[0]}}}

    [batch] = run(collector(fake_x), cursor)

    assert (batch.mentions, batch.skipped) == ([], [])
    assert since(batch.cursor) == PAGE1_IDS[0]


def test_one_query_per_brand_each_with_its_own_since_id(fake_x: FakeX) -> None:
    fake_x.on(None, "search_new.json")
    cursor = {"brands": {"Acme": {"since_id": PAGE1_IDS[0]}, "Gone": {"since_id": "1"}}}

    batches = run(collector(fake_x, brands=(ACME, GLOBEX)), cursor)

    assert [c["query"] for c in fake_x.calls] == [
        '((Acme OR @acme) -"acme road") -is:retweet', "(Globex) -is:retweet",
    ]  # fmt: skip
    assert fake_x.calls[0]["since_id"] == PAGE1_IDS[0]
    assert "start_time" in fake_x.calls[1]
    assert [len(b.mentions) for b in batches] == [1, 0]  # the same post twice: stored once
    assert batches[1].skipped[0].reason.startswith("duplicate tweet id")
    assert batches[1].cursor is not None
    assert batches[1].cursor["brands"] == {
        "Acme": {"since_id": NEW_ID}, "Globex": {"since_id": NEW_ID},
    }  # fmt: skip  # a brand that left the configuration is dropped


def test_max_pages_caps_the_poll_and_still_advances(
    fake_x: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    two_pages(fake_x)
    [batch] = run(collector(fake_x, max_pages=1))

    assert len(fake_x.calls) == 1
    assert since(batch.cursor) == PAGE1_IDS[0]
    assert "more than 1 pages of new posts" in caplog.text


def test_a_since_id_older_than_seven_days_falls_back_to_the_window(fake_x: FakeX) -> None:
    fake_x.on(None, "search_empty.json")
    stale = str(((int((NOW - timedelta(days=9)).timestamp() * 1000) - 1288834974657) << 22) | 1)

    [batch] = run(collector(fake_x), {"brands": {"Acme": {"since_id": stale}}})

    assert "since_id" not in fake_x.calls[0]
    assert fake_x.calls[0]["start_time"] == "2026-11-18T12:10:00Z"  # 7 days minus 10 min
    assert since(batch.cursor) is None


def test_backfill_is_clamped_to_x_search_window(fake_x: FakeX) -> None:
    fake_x.on(None, "search_empty.json")
    run(collector(fake_x, backfill="30d"))
    assert fake_x.calls[0]["start_time"] == "2026-11-18T12:10:00Z"


def test_the_query_adds_languages_and_can_keep_retweets(fake_x: FakeX) -> None:
    fake_x.on(None, "search_empty.json")
    run(collector(fake_x, exclude_retweets=False, languages=["en", "FI"]))
    assert fake_x.calls[0]["query"] == '((Acme OR @acme) -"acme road") (lang:en OR lang:fi)'


# -- configuration ----------------------------------------------------------------------------


def test_a_too_long_query_is_a_permanent_error_naming_the_brand() -> None:
    words = " OR ".join(f"word{i:03d}" for i in range(60))
    brand = Brand("Wordy", BrandQuery(words))
    config = XConfig(bearer_token=SecretStr(TOKEN))
    with pytest.raises(CollectorError) as caught:
        build_query(brand, config)
    assert caught.value.permanent
    assert "brand 'Wordy'" in caught.value.message
    assert "at most 512" in caught.value.message

    near = Brand("Near", BrandQuery(" OR ".join(f"w{i:04d}" for i in range(56))))
    assert len(near.query.to_x()) <= 512
    with pytest.raises(CollectorError, match="with this source's filters"):
        build_query(near, XConfig(bearer_token=SecretStr(TOKEN), languages=("en", "fi")))


@pytest.mark.parametrize(
    "options",
    [
        {"bearer_token": "plain-text-token"},
        {"base_url": "ftp://example.com"},
        {"languages": ["english"]},
        {"max_pages": 0},
        {"monthly_read_budget": 0},
        {"surprise": True},
    ],
)
def test_invalid_config_is_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        XConfig.model_validate({"bearer_token": SecretStr(TOKEN), **options})
