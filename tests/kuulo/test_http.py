"""kuulo.http against a real loopback server: limits, redirects, retries and error mapping."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kuulo.errors import FetchError, RateLimited
from kuulo.http import Response as Fetched
from kuulo.http import fetch, make_session, parse_retry_after, safe_url
from kuulo.settings import HttpSettings

FAST = HttpSettings(retries=0, backoff_factor=0, connect_timeout=2, read_timeout=2)


def get(url: str, http: HttpSettings = FAST, **kwargs: object) -> Fetched:
    with make_session(http) as session:
        return fetch(session, url, http, **kwargs)  # type: ignore[arg-type]


def test_ok_response_has_status_final_url_headers_and_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"<rss/>", content_type="application/rss+xml", headers={"ETag": '"v1"'}
    )
    response = get(httpserver.url_for("/feed"), headers={"If-None-Match": '"v0"'})
    assert response.status == 200
    assert response.url == httpserver.url_for("/feed")
    assert response.body == b"<rss/>"
    assert response.headers["etag"] == '"v1"'  # case-insensitive
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"] == FAST.user_agent
    assert request.headers["If-None-Match"] == '"v0"'


def test_session_policy_comes_from_settings() -> None:
    http = HttpSettings(retries=3, backoff_factor=0.25, max_redirects=4)
    session = make_session(http)
    retry = session.get_adapter("https://example.com").max_retries  # type: ignore[attr-defined]
    assert (retry.total, retry.connect, retry.read, retry.status) == (3, 3, 3, 3)
    assert retry.backoff_factor == 0.25
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}
    assert retry.allowed_methods == frozenset({"GET", "HEAD"})
    assert retry.raise_on_status is False
    assert session.max_redirects == 4
    assert session.get_adapter("http://example.com") is session.get_adapter("https://x.org")


def test_304_is_a_response_not_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"", status=304)
    response = get(httpserver.url_for("/feed"))
    assert (response.status, response.body) == (304, b"")


def _redirect_chain(httpserver: HTTPServer, hops: int) -> str:
    for hop in range(hops):
        httpserver.expect_request(f"/r{hop}").respond_with_data(
            b"", status=302, headers={"Location": f"/r{hop + 1}"}
        )
    httpserver.expect_request(f"/r{hops}").respond_with_data(b"done")
    return httpserver.url_for("/r0")


def test_five_redirects_are_followed(httpserver: HTTPServer) -> None:
    response = get(_redirect_chain(httpserver, 5), HttpSettings(retries=0, max_redirects=5))
    assert response.body == b"done"
    assert response.url == httpserver.url_for("/r5")


def test_too_many_redirects_is_permanent(httpserver: HTTPServer) -> None:
    with pytest.raises(FetchError, match="too many redirects") as caught:
        get(_redirect_chain(httpserver, 6), HttpSettings(retries=0, max_redirects=5))
    assert caught.value.permanent is True


def test_body_over_cap_with_content_length_is_refused_up_front(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    http = HttpSettings(retries=0, max_bytes=1000)
    with pytest.raises(FetchError, match="larger than 1000 bytes") as caught:
        get(httpserver.url_for("/big"), http)
    assert caught.value.permanent is False


def test_streamed_body_over_cap_without_content_length_is_cut_off(
    httpserver: HTTPServer,
) -> None:
    def endless() -> Iterator[bytes]:
        for _ in range(200):  # 200 x 16 KiB = 3.2 MiB if nobody stops reading
            yield b"y" * 16384

    httpserver.expect_request("/stream").respond_with_response(Response(endless()))
    http = HttpSettings(retries=0, max_bytes=50_000)
    with pytest.raises(FetchError, match="larger than 50000 bytes"):
        get(httpserver.url_for("/stream"), http)
    _request, response = httpserver.log[0]
    assert "Content-Length" not in response.headers


def test_gzip_bomb_is_capped_on_decoded_size(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)  # ~2 KB on the wire, 2 MB decoded
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    http = HttpSettings(retries=0, max_bytes=100_000)
    with pytest.raises(FetchError, match="larger than 100000 bytes"):
        get(httpserver.url_for("/bomb"), http)


def test_read_timeout_is_a_transient_fetch_error(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    http = HttpSettings(retries=0, read_timeout=0.3, connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out reading") as caught:
        get(httpserver.url_for("/slow"), http)
    assert time.monotonic() - started < 0.9
    assert caught.value.permanent is False


def test_body_that_stalls_mid_stream_times_out(httpserver: HTTPServer) -> None:
    def trickle() -> Iterator[bytes]:
        yield b"<rss>"
        time.sleep(1.0)
        yield b"</rss>"

    httpserver.expect_request("/stall").respond_with_response(Response(trickle()))
    http = HttpSettings(retries=0, read_timeout=0.3, connect_timeout=1)
    with pytest.raises(FetchError, match="timed out reading") as caught:
        get(httpserver.url_for("/stall"), http)
    assert caught.value.permanent is False


def test_connection_refused_is_a_transient_fetch_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="connection refused") as caught:
        get(f"http://127.0.0.1:{port}/feed")
    assert caught.value.permanent is False


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_client_errors_are_permanent(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"nope", status=status)
    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        get(httpserver.url_for("/feed"))
    assert caught.value.permanent is True
    assert not isinstance(caught.value, RateLimited)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"oops", status=status)
    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        get(httpserver.url_for("/feed"))
    assert caught.value.permanent is False
    assert caught.value.retry_after is None


def test_429_with_retry_after_seconds(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "7"}
    )
    with pytest.raises(RateLimited) as caught:
        get(httpserver.url_for("/feed"))
    assert caught.value.retry_after == 7
    assert caught.value.permanent is False


def test_503_with_http_date_retry_after(httpserver: HTTPServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    httpserver.expect_request("/feed").respond_with_data(
        b"", status=503, headers={"Retry-After": when}
    )
    with pytest.raises(RateLimited) as caught:
        get(httpserver.url_for("/feed"))
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 120


def test_429_without_retry_after_is_still_rate_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"", status=429)
    with pytest.raises(RateLimited) as caught:
        get(httpserver.url_for("/feed"))
    assert caught.value.retry_after is None


def test_long_retry_after_is_not_slept_through(httpserver: HTTPServer) -> None:
    """With retries left, urllib3 would sleep the Retry-After; a long one goes to the scheduler."""
    httpserver.expect_request("/feed").respond_with_data(
        b"", status=429, headers={"Retry-After": "120"}
    )
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        get(httpserver.url_for("/feed"), HttpSettings(retries=3, backoff_factor=0))
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 120
    assert len(httpserver.log) == 1


def test_short_retry_after_is_honoured_inline(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/feed").respond_with_data(
        b"", status=503, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/feed").respond_with_data(b"ok")
    started = time.monotonic()
    response = get(httpserver.url_for("/feed"), HttpSettings(retries=1, backoff_factor=0))
    assert response.body == b"ok"
    assert time.monotonic() - started >= 0.9


def test_transient_5xx_is_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/feed").respond_with_data(b"", status=502)
    httpserver.expect_ordered_request("/feed").respond_with_data(b"ok")
    response = get(httpserver.url_for("/feed"), HttpSettings(retries=1, backoff_factor=0))
    assert response.body == b"ok"
    assert len(httpserver.log) == 2


def test_garbled_retry_after_does_not_break_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"", status=503, headers={"Retry-After": "soon-ish"}
    )
    with pytest.raises(FetchError, match="HTTP 503") as caught:
        get(httpserver.url_for("/feed"), HttpSettings(retries=1, backoff_factor=0))
    assert not isinstance(caught.value, RateLimited)
    assert len(httpserver.log) == 2


def test_messages_never_carry_credentials_or_query(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/private").respond_with_data(b"", status=403)
    url = httpserver.url_for("/private?token=hunter2").replace("://", "://bob:s3cret@")
    with pytest.raises(FetchError) as caught:
        get(url)
    message = str(caught.value)
    assert "/private" in message
    assert "s3cret" not in message
    assert "hunter2" not in message
    assert "bob" not in message


def test_safe_url() -> None:
    assert (
        safe_url("https://u:p@host.example:8443/a/b?key=1#frag") == "https://host.example:8443/a/b"
    )
    assert safe_url("http://[::1]:8080/x") == "http://[::1]:8080/x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 30 ", 30.0),
        ("0", 1.0),  # clamped up: never hammer
        ("86400", 3600.0),  # clamped down
        ("Tue, 17 Nov 2026 12:02:00 GMT", 120.0),
        ("Tue, 17 Nov 2026 11:00:00 GMT", 1.0),  # in the past
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected
