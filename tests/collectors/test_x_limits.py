"""The X collector under rate limits, monthly budgets and HTTP failures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kuulo.errors import FetchError, RateLimited
from kuulo.model import Cursor
from kuulo.settings import HttpSettings
from tests.collectors.x_support import (
    EPOCH,
    NOW,
    SEARCH,
    TOKEN,
    TOKEN_1,
    FakeX,
    collector,
    fixture,
    run,
    run_until_error,
    since,
    two_pages,
)

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
