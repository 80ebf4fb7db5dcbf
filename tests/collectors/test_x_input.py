"""The X collector and bad input: junk records, cursors, bodies and payload mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from collectors.x import XCollector, XConfig
from collectors.x_payload import Page, language, map_page, snowflake_time, tweet_id
from kuulo.errors import FetchError
from kuulo.settings import HttpSettings
from tests.collectors.x_support import (
    NOW,
    PAGE1_IDS,
    Answer,
    FakeX,
    by_id,
    collector,
    context,
    run,
    run_until_error,
    since,
    two_pages,
)

# -- bad input --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
IDS = st.integers(min_value=0, max_value=2**64).map(str)
FIELDS = ("id", "text", "author_id", "created_at", "lang", "public_metrics", "referenced_tweets")
TWEETISH = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, JSON | IDS))


@settings(max_examples=60, deadline=None)
@given(records=st.lists(TWEETISH | JSON, max_size=6), users=JSON)
def test_no_record_can_break_a_page(records: list[Any], users: Any) -> None:
    page = Page(tweets=records, users={"1": users} if isinstance(users, dict) else {})
    mentions, skipped = map_page(page, "x-acme", set(), NOW)
    assert len(mentions) + len(skipped) == len(records)
    for mention in mentions:
        assert mention.native_id.isdigit()
        assert mention.url.startswith("https://x.com/")


def test_a_junk_cursor_is_ignored_not_fatal(fake_x: FakeX) -> None:
    two_pages(fake_x)
    junk = {
        "brands": {"Acme": {"since_id": 1.5e18}},
        "reads": ["nope"],
        "rate_limit": {"remaining": "0", "reset": None},
        "throttled": -3,
    }
    batches = run(collector(fake_x), junk)
    assert "start_time" in fake_x.calls[0]
    assert since(batches[-1].cursor) == PAGE1_IDS[0]


def test_an_empty_token_is_a_permanent_error(fake_x: FakeX) -> None:
    config = XConfig(bearer_token=SecretStr(""), base_url=fake_x.base_url)
    _, error = run_until_error(XCollector(config, context()))
    assert error.permanent
    assert fake_x.calls == []


def test_bad_records_are_skipped_with_reasons_and_the_rest_is_kept(fake_x: FakeX) -> None:
    fake_x.on(None, "search_bad_records.json")
    [batch] = run(collector(fake_x))

    good, odd = batch.mentions
    assert good.native_id == "2125557612454916133"
    assert odd.native_id == "2125556354163716133"  # a JSON number, kept exact
    assert odd.url == "https://x.com/i/web/status/2125556354163716133"  # author not included
    assert (odd.author_handle, odd.author_followers, odd.published_at) == (None, None, None)
    assert odd.language is None  # "qme": media only, not a language
    assert (odd.likes, odd.reposts, odd.replies, odd.quotes) == (None, None, None, 3)
    reasons = sorted(s.reason for s in batch.skipped)
    assert reasons == sorted(
        [
            "tweet has no text, or its text is not a string",
            "tweet has no text, or its text is not a string",
            "tweet has no id, or its id is not a numeric string",
            "tweet has no id, or its id is not a numeric string",
            "tweet has no id, or its id is not a numeric string",
            "tweet record is a str, not an object",
            "duplicate tweet id in this run; kept the first",
        ]
    )
    assert batch.cursor is not None
    assert batch.cursor["reads"]["posts"] == 9  # billed for every record, good or bad


def test_64_bit_ids_stay_exact_strings(fake_x: FakeX) -> None:
    mentions = by_id(run(collector(two_pages(fake_x))))
    big = PAGE1_IDS[0]
    assert int(float(big)) != int(big)  # a float would have corrupted it
    assert mentions[big].native_id == big
    assert mentions[big].key == f"x-acme:{big}"
    assert all(isinstance(m.native_id, str) for m in mentions.values())
    assert tweet_id(2125559638303748133) == big
    assert tweet_id(2.125559638303748e18) is None
    assert tweet_id(True) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "en"), ("FI", "fi"), ("und", None), ("qme", None), ("zxx", None), ("qht", None),
     ("in", "id"), ("iw", "he"), (None, None), (7, None)],
)  # fmt: skip
def test_x_pseudo_languages_are_not_languages(code: object, expected: str | None) -> None:
    assert language(code) == expected


def test_snowflake_time_reads_the_id() -> None:
    assert snowflake_time(PAGE1_IDS[0]) == datetime(2026, 11, 25, 11, 58, 3, 417000, tzinfo=UTC)
    assert snowflake_time("20") is None


def test_a_body_that_is_not_json_is_a_failed_fetch(httpserver: HTTPServer) -> None:
    fake = FakeX(httpserver)
    fake.answers[None] = Answer(b"<html>maintenance</html>")
    _, error = run_until_error(collector(fake))
    assert isinstance(error, FetchError)
    assert "not JSON" in error.message
    assert not error.permanent


def test_a_body_over_max_bytes_is_refused(fake_x: FakeX) -> None:
    fake_x.on(None, "search_page1.json")
    http = HttpSettings(retries=0, read_timeout=2, max_bytes=1000)
    _, error = run_until_error(collector(fake_x, http=http))
    assert isinstance(error, FetchError)
    assert "larger than 1000 bytes" in error.message
