"""The one HTTP client for sources that have no SDK (RSS, Google News, JSON APIs).

Every request goes through :func:`make_session` and :func:`fetch` so that the limits in
``[http]`` (timeouts, body cap, redirects, retries) hold everywhere, and every failure reaches
the scheduler as a :class:`~kuulo.errors.CollectorError` carrying ``permanent`` and
``retry_after`` instead of a zoo of ``requests``/``urllib3`` exceptions.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError, ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry

from kuulo.errors import FetchError, RateLimited
from kuulo.settings import HttpSettings

__all__ = [
    "Response",
    "fetch",
    "is_blocked_address",
    "make_session",
    "parse_retry_after",
    "safe_url",
]

RETRY_STATUSES = (429, 500, 502, 503, 504)
INLINE_RETRY_AFTER_MAX = 10.0
"""Longest Retry-After urllib3 may sleep through inside one request; longer waits are handed to
the scheduler (as :class:`RateLimited`) so a worker never blocks for minutes or hours."""
RETRY_AFTER_BOUNDS = (1.0, 3600.0)
CHUNK_SIZE = 64 * 1024
PERMANENT_STATUSES = frozenset({401, 403, 404, 410})


class _BoundedRetry(Retry):
    """``Retry`` that gives up at once on a long Retry-After and ignores a garbled one.

    Stock urllib3 sleeps for any Retry-After up to 6 hours, and raises ``InvalidHeader`` out of
    the request on an unparsable value; neither is acceptable for a polling worker.
    """

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None and _pool is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > INLINE_RETRY_AFTER_MAX:
                # With raise_on_status=False urllib3 hands this response back to the caller.
                raise MaxRetryError(_pool, url or "", None)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_session(
    http: HttpSettings, *, guard: bool = False, allow_loopback: bool = False
) -> requests.Session:
    """A ``requests.Session`` with kuulo's User-Agent, retry policy and redirect cap.

    ``guard`` (sources created in the dashboard): every connection, redirects included, goes
    through requests-hardened's IP filter, which resolves the host, refuses loopback, private,
    link-local (cloud metadata), multicast and reserved addresses, and connects to the very
    address it checked (no DNS rebinding between check and connect). Proxies from the
    environment are ignored then, since a proxy would connect on our behalf, unchecked.
    ``allow_loopback`` lets a guarded session reach 127.0.0.0/8 and ::1 only (tests).
    """
    retry = _BoundedRetry(
        total=http.retries,
        connect=http.retries,
        read=http.retries,
        status=http.retries,
        redirect=http.max_redirects,
        backoff_factor=http.backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.headers["User-Agent"] = http.user_agent
    if guard:
        session.trust_env = False
        for scheme in ("http", "https"):
            adapter = IPFilterAdapter(
                is_https_proto=scheme == "https", allow_loopback=allow_loopback
            )
            adapter.max_retries = retry
            session.mount(f"{scheme}://", adapter)
    else:
        plain = HTTPAdapter(max_retries=retry)
        session.mount("http://", plain)
        session.mount("https://", plain)
    session.max_redirects = http.max_redirects
    return session


def is_blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a guarded session refuses ``ip``: anything but a public unicast address.

    The same ranges as requests-hardened (its filter does the connect-time check), stated
    here for the save-time check of a feed URL.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or any(ip in net for net in EXTRA_BLOCKED_NET_RANGES)
    )


@dataclass(frozen=True)
class Response:
    """A fully read, size-capped response; the connection is already released."""

    status: int
    url: str  # the final URL, after redirects
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no userinfo, query or fragment.

    Error messages end up in logs and the dashboard; query strings and userinfo are where
    tokens and passwords live.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), clamped to
    [1, 3600]; ``None`` when absent or unparsable, so a bad header never masks the status."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP-date is GMT by definition
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    low, high = RETRY_AFTER_BOUNDS
    return min(max(seconds, low), high)


def fetch(
    session: requests.Session,
    url: str,
    http: HttpSettings,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """GET ``url`` within the ``[http]`` limits and return the whole body.

    Raises :class:`FetchError` (or :class:`RateLimited`) for anything but 2xx and 304, so a
    caller never parses an error page as if it were content.
    """
    where = safe_url(url)
    try:
        resp = session.get(
            url,
            headers=dict(headers or {}),
            timeout=(http.connect_timeout, http.read_timeout),
            stream=True,
            allow_redirects=True,
        )
    except requests.RequestException as exc:
        raise _request_error(exc, where, http) from exc
    with resp:
        final = safe_url(resp.url or url)
        _check_status(resp, final)
        try:
            body = b"" if resp.status_code == 304 else _read_capped(resp, http.max_bytes, final)
        except requests.RequestException as exc:
            raise _request_error(exc, final, http) from exc
        return Response(resp.status_code, resp.url or url, resp.headers, body)


def _read_capped(resp: requests.Response, max_bytes: int, where: str) -> bytes:
    """Read the (decoded) body, aborting as soon as it passes ``max_bytes``.

    Content-Length is checked first to avoid reading at all, but it can be absent (chunked) or
    lie, and gzip expands, so the running total of decoded bytes is what really enforces it.
    """
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(where, max_bytes)
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_content(chunk_size=CHUNK_SIZE):
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(where, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(where: str, max_bytes: int) -> FetchError:
    return FetchError(f"response from {where} is larger than {max_bytes} bytes", permanent=False)


def _check_status(resp: requests.Response, where: str) -> None:
    """Map an HTTP status to kuulo's error tree; 2xx and 304 pass."""
    status = resp.status_code
    if 200 <= status < 300 or status == 304:
        return
    label = f"HTTP {status} {resp.reason or ''}".rstrip()
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    if status == 429 or (status == 503 and retry_after is not None):
        raise RateLimited(
            f"{where} is rate limiting us ({label})", permanent=False, retry_after=retry_after
        )
    if status in PERMANENT_STATUSES or 400 <= status < 500:
        raise FetchError(f"{label} from {where}", permanent=True)
    raise FetchError(f"{label} from {where}", permanent=False)


def _request_error(exc: requests.RequestException, where: str, http: HttpSettings) -> FetchError:
    """A clear, secret-free FetchError for a transport failure.

    ``requests`` messages embed the full URL (query string included) and urllib3 reprs, so the
    message is rebuilt from the exception type and root cause instead of being passed through.
    """
    causes = list(_causes(exc))
    if _has(causes, InvalidIPAddress):
        return FetchError(
            f"refused to connect for {where}: it (or a redirect) leads to a loopback, private or"
            " link-local address, which sources added in the dashboard may not reach (an admin"
            " can allow it: [dashboard] allow_private_feed_hosts)",
            permanent=True,
        )
    if isinstance(exc, requests.TooManyRedirects):
        return FetchError(
            f"too many redirects (more than {http.max_redirects}) fetching {where}", permanent=True
        )
    if isinstance(exc, requests.ConnectTimeout):
        return FetchError(f"timed out connecting to {where} after {http.connect_timeout}s")
    if isinstance(exc, requests.ReadTimeout) or _has(causes, ReadTimeoutError):
        return FetchError(f"timed out reading from {where} (read timeout {http.read_timeout}s)")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return FetchError(f"invalid URL {where}", permanent=True)
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return FetchError(f"unsupported URL scheme in {where}", permanent=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return FetchError(f"TLS error talking to {where}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return FetchError(f"connection broken while reading the body from {where}")
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return FetchError(f"could not decode the compressed body from {where}")
    if _has(causes, ConnectionRefusedError):
        return FetchError(f"connection refused by {where}")
    if _has(causes, NameResolutionError) or _has(causes, socket.gaierror):
        return FetchError(f"could not resolve the host of {where}")
    if isinstance(exc, requests.ConnectionError):
        return FetchError(f"could not connect to {where} ({_root_name(causes)})")
    return FetchError(f"request to {where} failed ({type(exc).__name__})")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Every exception wrapped by ``exc``: requests and urllib3 nest them via ``args``,
    ``reason``, ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        stack.extend(e for e in (*linked, *current.args) if isinstance(e, BaseException))


def _has(causes: list[BaseException], kind: type[BaseException]) -> bool:
    return any(isinstance(c, kind) for c in causes)


def _root_name(causes: list[BaseException]) -> str:
    return type(causes[-1]).__name__ if causes else "unknown error"
