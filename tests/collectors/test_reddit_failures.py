"""The Reddit collector and bad input, rate limits and failures."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from prawcore.rate_limit import RateLimiter
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.reddit_http import RateBudget, parse_ratelimit, prawcore_wait
from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.model import Batch, Skipped
from kuulo.settings import HttpSettings
from tests.collectors.reddit_support import (
    PAGE_1,
    SECRET,
    FakeReddit,
    collector,
    context,
    ids,
    listing_response,
    run,
)

pytestmark = pytest.mark.usefixtures("_no_real_reddit")


# -- bad input ------------------------------------------------------------------------------------


def test_bad_records_are_skipped_with_reasons(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: "search_bad.json"})

    [batch] = run(collector(reddit.url))

    assert ids(batch) == ["t3_ok1", "t3_idonly"]
    assert batch.mentions[0].likes is None  # "12" (a string) is not a count
    assert batch.mentions[0].replies is None
    assert batch.skipped == [
        Skipped("not a submission (t3) or comment (t1) record"),  # "oops"
        Skipped("not a submission (t3) or comment (t1) record"),  # a t5 (subreddit)
        Skipped("not a submission (t3) or comment (t1) record"),  # data is a list
        Skipped("record has no valid id (fullname)"),
        Skipped("created_utc is missing or not a number", "t3_strdate"),
        Skipped("title is not a string", "t3_badtitle"),
        Skipped("created_utc is out of range", "t3_future"),
        Skipped("no text (empty, deleted or removed)", "t3_empty"),
        Skipped("record has no valid id (fullname)"),  # an integer id
    ]


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"kind": "t3", "data": {}}', b'{"kind": "Listing", "data": {"children": 5}}'],
)
def test_an_answer_that_is_not_a_listing_fails_the_fetch(reddit: FakeReddit, body: bytes) -> None:
    reddit.answer("/r/all/search/", lambda r: Response(body, content_type="application/json"))
    with pytest.raises(FetchError, match="Listing") as info:
        run(collector(reddit.url))
    assert not info.value.permanent


def test_a_body_over_the_size_cap_fails_the_fetch(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1})
    small = HttpSettings(retries=0, max_bytes=1000)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        run(collector(reddit.url, ctx=context(http=small)))


# -- rate limits -----------------------------------------------------------------------------------


def test_reddit_reset_is_seconds_to_go_not_an_epoch() -> None:
    """X's x-rate-limit-reset is an epoch; Reddit's X-Ratelimit-Reset counts seconds."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "1000", "x-ratelimit-reset": "120"}
    assert parse_ratelimit(headers) == (0.0, 1000, 120.0)
    assert prawcore_wait(0.0, 1000, 120.0) == 120.0
    clock = iter([1000.0, 1000.0, 1000.0]).__next__
    budget = RateBudget(clock=clock)
    budget.observe(dict(headers))
    with pytest.raises(RateLimited) as info:
        budget.check()
    assert info.value.retry_after == 120.0  # not 120 - time.time(), nor an epoch
    # An epoch-looking value cannot pause a source for decades: clamped to an hour.
    assert parse_ratelimit({**headers, "x-ratelimit-reset": "1795608120"}) == (0.0, 1000, 3600.0)
    assert parse_ratelimit({**headers, "x-ratelimit-used": "lots"}) is None


@pytest.mark.parametrize(
    ("remaining", "used", "reset"), [(0, 1000, 42), (996, 4, 372), (3, 997, 300), (50, 550, 500)]
)
def test_prawcore_wait_matches_prawcores_rate_limiter(
    remaining: int, used: int, reset: int
) -> None:
    limiter = RateLimiter(window_size=600)
    start = time.monotonic_ns()
    limiter.update(
        response_headers={
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
        }
    )
    assert limiter.next_request_timestamp_ns is not None
    expected = (limiter.next_request_timestamp_ns - start) / 1e9
    assert prawcore_wait(remaining, used, reset) == pytest.approx(expected, abs=0.05)


def test_429_pauses_for_the_reset_seconds(reddit: FakeReddit) -> None:
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "120"}
    reddit.answer("/r/all/search/", lambda r: Response("Too Many Requests", 429, headers=spent))
    started = time.monotonic()

    with pytest.raises(RateLimited) as info:
        run(collector(reddit.url))

    assert time.monotonic() - started < 2  # neither prawcore nor kuulo slept through it
    assert info.value.retry_after == 120.0
    assert not info.value.permanent
    assert len(reddit.requests("/r/all/search/")) == 1


def test_429_with_retry_after_uses_it(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response("slow down", 429, {"Retry-After": "30"}))
    with pytest.raises(RateLimited) as info:
        run(collector(reddit.url))
    assert info.value.retry_after == 30.0


def test_a_spent_budget_stops_before_the_next_request(reddit: FakeReddit) -> None:
    """prawcore would sleep 300 s before page 2; the collector hands the wait to the scheduler."""
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "300"}
    reddit.answer("/r/all/search/", lambda r: listing_response(PAGE_1, spent))
    started = time.monotonic()
    batches: list[Batch] = []

    with pytest.raises(RateLimited) as info:
        batches.extend(collector(reddit.url).collect(None))

    assert time.monotonic() - started < 2
    assert info.value.retry_after == 300.0
    assert [ids(b) for b in batches] == [["t3_p1a", "t3_p1b", "t3_p1c"]]
    assert batches[0].cursor is None  # the stream is incomplete: the stored cursor stays
    assert len(reddit.requests("/r/all/search/")) == 1


# -- failures -----------------------------------------------------------------------------------


def test_401_on_the_token_is_permanent_and_names_no_secret(
    reddit: FakeReddit, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(
        {"message": "Unauthorized", "error": 401}, status=401
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(CollectorError) as info:
        run(collector(reddit.url))
    assert info.value.permanent
    assert "HTTP 401" in info.value.message
    assert "prefs/apps" in info.value.message
    assert SECRET not in info.value.message
    assert SECRET not in caplog.text
    assert reddit.requests("/r/all/search/") == []


def test_an_oauth_error_answer_is_permanent(reddit: FakeReddit, httpserver: HTTPServer) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(
        {"error": "invalid_grant"}
    )
    with pytest.raises(CollectorError, match="invalid_grant") as info:
        run(collector(reddit.url))
    assert info.value.permanent


def test_403_on_search_is_permanent(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response('{"error": 403}', 403))
    with pytest.raises(CollectorError, match="HTTP 403") as info:
        run(collector(reddit.url))
    assert info.value.permanent


def test_500_is_transient_and_not_retried_by_prawcore(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response("oops", 500))
    started = time.monotonic()
    with pytest.raises(FetchError, match="HTTP 500") as info:
        run(collector(reddit.url))
    assert not info.value.permanent
    assert len(reddit.requests("/r/all/search/")) == 1  # [http] retries = 0, and no more
    assert time.monotonic() - started < 2  # prawcore's retries would sleep 2-6 s


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="failed") as info:
        run(collector(f"http://127.0.0.1:{port}"))
    assert not info.value.permanent
    assert SECRET not in info.value.message


def test_the_http_read_timeout_applies(reddit: FakeReddit) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return listing_response(PAGE_1)

    reddit.answer("/r/all/search/", slow)
    quick = HttpSettings(retries=0, connect_timeout=1, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out reading"):
        run(collector(reddit.url, ctx=context(http=quick)))
    assert time.monotonic() - started < 0.9  # not prawcore's 16 s


def test_missing_credentials_fail_without_a_request(reddit: FakeReddit) -> None:
    with pytest.raises(CollectorError, match="credentials are not set") as info:
        run(collector(reddit.url, secret=""))
    assert info.value.permanent
    assert reddit.server.log == []
