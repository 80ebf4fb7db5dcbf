"""Hacker News collector failures: rate limits, server errors and bad bodies."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.model import Batch
from tests.collectors.hackernews_support import (
    NOW_I,
    PATH,
    FakeAlgolia,
    collector,
    fixture,
    hit,
    run,
)

# -- failures ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_rate_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(RateLimited) as caught:
        run(collector(httpserver))
    assert caught.value.retry_after == 120
    assert caught.value.permanent is False


def test_a_server_error_fails_the_poll_without_rows(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("Bad Gateway", status=502)
    c = collector(httpserver)
    with pytest.raises(FetchError) as caught:
        run(c)
    assert "HTTP 502" in caught.value.message
    assert caught.value.permanent is False


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Service Unavailable</body></html>",
        json.dumps(fixture("search_page0.json")).encode()[:700],
        b'{"hits": "nope"}',
        b"\xff\xfe{}",
    ],
    ids=["html", "truncated-json", "no-hits-list", "bad-utf8"],
)
def test_a_body_that_is_not_a_search_result_is_a_retryable_error(
    httpserver: HTTPServer, body: bytes
) -> None:
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    batches: list[Batch] = []
    with pytest.raises(CollectorError) as caught:
        batches.extend(collector(httpserver).collect(None))
    assert batches == []
    assert caught.value.permanent is False
    assert "/api/v1/search_by_date" in caught.value.message
    assert "numericFilters" not in caught.value.message  # no query string in messages


def test_a_body_cut_short_of_its_content_length_is_an_error(httpserver: HTTPServer) -> None:
    whole = json.dumps(fixture("search_page0.json")).encode()

    def cut(request: Request) -> Response:
        response = Response(whole[:500], content_type="application/json")
        response.headers["Content-Length"] = str(len(whole))
        return response

    httpserver.expect_request(PATH).respond_with_handler(cut)
    with pytest.raises(CollectorError) as caught:
        run(collector(httpserver))
    assert caught.value.permanent is False


def test_a_failure_on_a_later_page_yields_no_cursor(fake: FakeAlgolia) -> None:
    fake.hits = [hit(str(n), NOW_I - 100 + n) for n in range(6)]
    fake.fail_page = 2
    batches: list[Batch] = []
    with pytest.raises(FetchError):
        batches.extend(collector(fake.server, hits_per_page=2).collect(None))
    assert [b.cursor for b in batches] == [None]  # page 0 may be stored; the cursor may not move
