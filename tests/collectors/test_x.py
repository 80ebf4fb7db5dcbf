"""The X collector through the real tweepy client against a loopback X, and through the pipeline.

pytest-httpserver plays ``GET /2/tweets/search/recent`` with payloads in X's v2 shapes from
``tests/fixtures/x``; the collector reaches it because its adapter rewrites tweepy's hard-coded
``https://api.twitter.com``. The clock is fixed, so rate-limit waits are exact.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.x import XCollector, XConfig, build_query
from collectors.x_payload import Page, language, map_page, snowflake_time, tweet_id
from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.http import make_session
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention
from kuulo.pipeline import Runtime, collect_source, prepare_batch, sync_sources
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings, load_settings
from kuulo.store import MentionFilter, SqliteStore, open_store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "x"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EPOCH = int(NOW.timestamp())
SEARCH = "/2/tweets/search/recent"
# Shaped like a real app-only bearer token (URL-encoded base64), so a leak is unmistakable.
TOKEN = "AAAAAAAAAAAAAAAAAAAAAKuulo0000%2BfAkEtOkEn%2BnOtReAl%3DQ1w2E3r4T5y6U7i8O9p0"
PIPELINE_TOKEN = "test-token"
TOKEN_1 = "b26v89c19zqg8o3fpzbkk8mx7hx5y7z1g3l4kkzbqf8cd"
ACME = Brand("Acme", BrandQuery('(Acme OR @acme) -"acme road"'))
GLOBEX = Brand("Globex", BrandQuery("Globex"))
PAGE1_IDS = ["2125559638303748133", "2125555460776964133", "2125549496476676133"]
PAGE2_IDS = ["2125543058220036133", "2125516227257348133"]
NEW_ID = "2125560003208196133"
WINDOW_OK = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- a fake X ---------------------------------------------------------------------------------


@dataclass
class Answer:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeX:
    """``/2/tweets/search/recent``: the answer is picked by ``next_token`` (None: first page)."""

    server: HTTPServer
    answers: dict[str | None, Answer] = field(default_factory=dict)
    calls: list[dict[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(SEARCH).respond_with_handler(self.handle)

    def on(
        self, token: str | None, name: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> FakeX:
        """Answer ``token``'s request with a fixture; a 200 has a healthy rate-limit window."""
        if headers is None and status == 200:
            headers = {**WINDOW_OK, "x-rate-limit-reset": str(EPOCH + 900)}
        self.answers[token] = Answer(fixture(name), status, headers or {})
        return self

    def handle(self, request: Request) -> Response:
        self.calls.append(request.args.to_dict())
        self.auth.append(request.headers.get("Authorization", ""))
        answer = self.answers[request.args.get("next_token")]
        return Response(answer.body, answer.status, answer.headers, content_type="application/json")

    @property
    def base_url(self) -> str:
        return self.server.url_for("")


@pytest.fixture
def fake_x(httpserver: HTTPServer) -> FakeX:
    return FakeX(httpserver)


def two_pages(fake: FakeX) -> FakeX:
    return fake.on(None, "search_page1.json").on(TOKEN_1, "search_page2.json")


def context(
    brands: tuple[Brand, ...] = (ACME,), http: HttpSettings | None = None
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, connect_timeout=2, read_timeout=2)
    return CollectorContext(
        source_name="x-acme",
        brands=brands,
        http=settings,
        session_factory=lambda: make_session(settings),
        now=lambda: NOW,
        logger=logging.getLogger("kuulo.collectors.x-acme"),
    )


def collector(
    target: FakeX | str,
    brands: tuple[Brand, ...] = (ACME,),
    http: HttpSettings | None = None,
    **options: Any,
) -> XCollector:
    base_url = target if isinstance(target, str) else target.base_url
    config = XConfig.model_validate(
        {"bearer_token": SecretStr(TOKEN), "base_url": base_url, **options}
    )
    return XCollector(config, context(brands, http))


def run(x: XCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(x.collect(cursor))


def run_until_error(
    x: XCollector, cursor: Cursor | None = None
) -> tuple[list[Batch], CollectorError]:
    """The batches yielded before the run failed, and the error it failed with."""
    batches: list[Batch] = []
    pages = x.collect(cursor)
    with pytest.raises(CollectorError) as caught:
        batches.extend(pages)
    return batches, caught.value


def by_id(batches: list[Batch]) -> dict[str, Mention]:
    return {m.native_id: m for b in batches for m in b.mentions}


def since(cursor: Cursor | None, brand: str = "Acme") -> str | None:
    return ((cursor or {}).get("brands", {}).get(brand) or {}).get("since_id")


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


# -- rate limits and budgets ------------------------------------------------------------------


def test_429_with_reset_waits_until_the_reset(fake_x: FakeX) -> None:
    fake_x.on(None, "error_429.json", 429, headers={
        "x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(EPOCH + 600),
    })  # fmt: skip
    x = collector(fake_x)

    batches, error = run_until_error(x)

    assert isinstance(error, RateLimited)
    assert error.retry_after == 600
    assert "next request after 12:10:00 UTC" in error.message
    [bookkeeping] = batches  # the reset is remembered even though nothing was stored
    assert bookkeeping.mentions == []
    assert bookkeeping.cursor is not None
    assert bookkeeping.cursor["rate_limit"] == {"remaining": 0, "reset": EPOCH + 600}

    _, again = run_until_error(x, bookkeeping.cursor)  # a poll before the reset sends nothing
    assert isinstance(again, RateLimited)
    assert again.retry_after == 600
    assert len(fake_x.calls) == 1


def test_429_without_headers_backs_off_exponentially_from_60s(fake_x: FakeX) -> None:
    fake_x.on(None, "error_429.json", 429)  # no x-rate-limit-* headers at all
    x = collector(fake_x)
    cursor: Cursor | None = None
    waits = []
    for _ in range(3):
        batches, error = run_until_error(x, cursor)
        waits.append(error.retry_after)
        cursor = batches[-1].cursor
    assert waits == [60, 120, 240]
    assert cursor is not None
    assert cursor["throttled"] == 3

    two_pages(fake_x)  # a success ends the backoff
    assert "throttled" not in (run(x, cursor)[-1].cursor or {})


def test_a_garbled_reset_header_counts_as_missing(fake_x: FakeX) -> None:
    fake_x.on(None, "error_429.json", 429, headers={"x-rate-limit-reset": "soon"})
    _, error = run_until_error(collector(fake_x))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 60


def test_remaining_zero_stops_paging_until_the_reset(fake_x: FakeX) -> None:
    fake_x.on(None, "search_page1.json", headers={
        "x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(EPOCH + 300),
    })  # fmt: skip
    fake_x.on(TOKEN_1, "search_page2.json")

    batches, error = run_until_error(collector(fake_x))

    assert len(fake_x.calls) == 1  # page 2 was not requested
    assert isinstance(error, RateLimited)
    assert error.retry_after == 300
    assert [len(b.mentions) for b in batches] == [3]
    assert since(batches[0].cursor) is None  # the poll is incomplete: re-read next time
    assert batches[0].cursor is not None
    assert batches[0].cursor["rate_limit"] == {"remaining": 0, "reset": EPOCH + 300}


def test_an_expired_reset_lets_requests_through(fake_x: FakeX) -> None:
    two_pages(fake_x)
    cursor = {"rate_limit": {"remaining": 0, "reset": EPOCH - 1}}
    assert len(run(collector(fake_x), cursor)) == 2


def test_the_monthly_budget_pauses_until_next_month(fake_x: FakeX) -> None:
    two_pages(fake_x)
    cursor = {"reads": {"month": "2026-11", "posts": 500}}

    _, error = run_until_error(collector(fake_x, monthly_read_budget=500), cursor)

    assert isinstance(error, RateLimited)
    assert error.message == "monthly read budget of 500 posts reached; paused until 2026-12-01"
    assert error.retry_after == (datetime(2026, 12, 1, tzinfo=UTC) - NOW).total_seconds()
    assert fake_x.calls == []


def test_the_budget_shrinks_the_last_pages_and_resets_each_month(fake_x: FakeX) -> None:
    two_pages(fake_x)
    cursor = {"reads": {"month": "2026-11", "posts": 497}}
    batches, error = run_until_error(collector(fake_x, monthly_read_budget=500), cursor)
    assert fake_x.calls[0]["max_results"] == "10"  # X's minimum; overshoot stays small
    assert "monthly read budget" in error.message
    assert batches[-1].cursor is not None
    assert batches[-1].cursor["reads"] == {"month": "2026-11", "posts": 500}

    last_month = {"reads": {"month": "2026-10", "posts": 10_000}}
    assert len(run(collector(fake_x, monthly_read_budget=500), last_month)) == 2


# -- HTTP failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "message"),
    [
        (401, "error_401.json", "X rejected the bearer token (HTTP 401: Unauthorized)"),
        (403, "error_403.json", "X refused access (HTTP 403: When authenticating requests"),
        (400, "error_400.json", "missing closing parenthesis"),
    ],
)
def test_auth_and_request_errors_are_permanent(
    fake_x: FakeX, status: int, name: str, message: str
) -> None:
    fake_x.on(None, name, status)
    batches, error = run_until_error(collector(fake_x))
    assert error.permanent
    assert message in error.message
    assert TOKEN not in error.message
    assert batches == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(fake_x: FakeX, status: int) -> None:
    fake_x.on(None, "error_503.json", status)
    _, error = run_until_error(collector(fake_x))
    assert isinstance(error, FetchError)
    assert not error.permanent
    assert f"X server error (HTTP {status}" in error.message


def test_connection_refused_is_transient() -> None:
    _, error = run_until_error(collector("http://127.0.0.1:9"))
    assert error.message == "could not connect to http://127.0.0.1:9/2/tweets/search/recent"
    assert not error.permanent


def test_the_read_timeout_from_http_settings_applies(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response(fixture("search_empty.json"), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(slow)
    http = HttpSettings(retries=0, connect_timeout=1, read_timeout=0.2)
    _, error = run_until_error(collector(httpserver.url_for(""), http=http))
    assert "timed out reading" in error.message
    assert not error.permanent


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


# -- through the pipeline, with a real store ----------------------------------------------------


def write_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f"""
[kuulo]
database = "{(tmp_path / "kuulo.db").as_posix()}"

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
        encoding="utf-8",
    )
    return path


def runtime(tmp_path: Path, fake: FakeX, token: str = PIPELINE_TOKEN) -> Runtime:
    environ = {"KUULO_X_BEARER_TOKEN": token} if token else {}
    settings = load_settings(write_config(tmp_path, fake.base_url), environ=environ)
    return Runtime.from_settings(settings, clock=lambda: NOW, jitter=lambda every: timedelta(0))


@contextmanager
def opened(rt: Runtime) -> Iterator[SqliteStore]:
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        yield store


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
