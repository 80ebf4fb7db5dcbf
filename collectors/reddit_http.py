"""Reddit's HTTP glue: prawcore's requests under ``[http]``, its rate-limit headers, its errors
as kuulo's, and the raw ``Listing`` pages that ``Reddit.request`` answers with.

Kept apart from :mod:`collectors.reddit` (which owns the configuration, the polling loop, the
cursor and the mapping). :class:`RedditRequestor` replaces prawcore's HTTP layer so ``[http]``
holds here too, and :class:`RateBudget` keeps prawcore from sleeping for minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from praw.exceptions import PRAWException
from prawcore import Requestor
from prawcore.exceptions import (
    BadJSON,
    OAuthException,
    PrawcoreException,
    Redirect,
    ResponseException,
    TooManyRequests,
)
from prawcore.sessions import Session

from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.http import INLINE_RETRY_AFTER_MAX, RETRY_AFTER_BOUNDS, parse_retry_after, safe_url
from kuulo.settings import HttpSettings

_RATE_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")
CREDENTIAL_HELP = (
    'create a "script" or "web" app at https://www.reddit.com/prefs/apps (since Nov 2025 new '
    "apps need Reddit's approval) and set KUULO_REDDIT_CLIENT_ID and KUULO_REDDIT_CLIENT_SECRET"
)


def parse_ratelimit(headers: Mapping[str, str]) -> tuple[float, int, float] | None:
    """``(remaining, used, seconds_to_reset)``, or None when absent or garbled.

    Reddit's ``X-Ratelimit-Reset`` is the number of *seconds until the window resets*, unlike
    X's ``x-rate-limit-reset``, an epoch time. Values above an hour are clamped.
    """
    try:
        values = [float(headers[name]) for name in _RATE_HEADERS]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        return None
    return values[0], int(values[1]), min(values[2], RETRY_AFTER_BOUNDS[1])


def prawcore_wait(remaining: float, used: int, reset: float, window: float = 600) -> float:
    """Seconds prawcore's ``RateLimiter.delay`` sleeps before the next request: the whole reset
    once the budget is spent, else a delay spreading requests over the window, at most 10 s."""
    if remaining <= 0:
        return max(1.0, reset)
    return min(reset, max(reset - (window - window / (remaining + used) * used), 0.0), 10.0)


@dataclass
class RateBudget:
    """Reddit's announced budget, so that no request sleeps longer than kuulo allows inline.

    prawcore sleeps before each request as long as it computed from the previous response's
    headers (``prawcore/rate_limit.py``): up to the whole 600 s window once ``remaining`` is 0.
    When that wait would exceed ``INLINE_RETRY_AFTER_MAX``, the headers are removed before
    prawcore reads them (so it does not sleep) and the next request raises :class:`RateLimited`,
    which pauses only this source. Shorter waits (at most 10 s) are left to prawcore.
    """

    clock: Callable[[], float] = time.monotonic
    blocked_until: float | None = None
    resets_at: float | None = None

    def check(self) -> None:
        if self.blocked_until is not None and self.blocked_until > self.clock():
            wait = self.seconds_to(self.blocked_until)
            raise RateLimited(f"Reddit's rate limit is spent for {wait:.0f}s", retry_after=wait)

    def observe(self, headers: MutableMapping[str, str]) -> None:
        parsed = parse_ratelimit(headers)
        if parsed is None:  # prawcore's int() would crash on a garbled value
            _drop(headers, *_RATE_HEADERS)
            return
        remaining, used, reset = parsed
        now = self.clock()
        self.resets_at = now + reset
        if (wait := prawcore_wait(remaining, used, reset)) > INLINE_RETRY_AFTER_MAX:
            self.blocked_until = now + wait
            _drop(headers, *_RATE_HEADERS)
        else:  # in the forms prawcore parses
            values = (str(remaining), str(used), str(int(reset)))
            headers.update(zip(_RATE_HEADERS, values, strict=True))

    def seconds_to(self, moment: float | None) -> float | None:
        """Whole seconds until a clock reading, within kuulo's Retry-After bounds."""
        if moment is None:
            return None
        low, high = RETRY_AFTER_BOUNDS
        return float(min(max(math.ceil(moment - self.clock()), low), high))


def _drop(headers: MutableMapping[str, str], *names: str) -> None:
    for name in names:
        headers.pop(name, None)


class RedditRequestor(Requestor):
    """prawcore's HTTP layer, obeying ``[http]`` instead of prawcore's own defaults.

    Every request gets ``(connect_timeout, read_timeout)`` (prawcore always passes 16 s) and the
    ``max_bytes`` cap. Transport errors and the 5xx statuses prawcore would retry become
    :class:`FetchError` here, after the session's own bounded retries: prawcore would retry
    twice more, sleeping up to 6 s, and its ``RequestException`` keeps the request's arguments,
    Basic-auth secret included.
    """

    def __init__(
        self, *, session: requests.Session, http: HttpSettings, budget: RateBudget, **kw: Any
    ) -> None:
        super().__init__(session=session, **kw)
        self._session, self._limits, self._budget = session, http, budget

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        method, url = args
        where, http = safe_url(str(url)), self._limits
        self._budget.check()
        try:
            response = self._session.request(
                method,
                url,
                timeout=(http.connect_timeout, http.read_timeout),
                stream=True,
                **kwargs,
            )
            _read_capped(response, http.max_bytes, where)
        except requests.RequestException as exc:
            raise _transport_error(exc, where, http) from None
        self._budget.observe(response.headers)
        retry_after = parse_retry_after(response.headers.pop("Retry-After", None))
        if retry_after is not None:  # prawcore float()s it; an HTTP-date would crash it
            response.headers["Retry-After"] = str(int(retry_after))
        if response.status_code in Session.RETRY_STATUSES:
            if response.status_code == 503 and retry_after is not None:
                raise RateLimited(f"HTTP 503 from {where}", retry_after=retry_after)
            raise FetchError(f"HTTP {response.status_code} from {where}")
        return response


def _read_capped(response: requests.Response, max_bytes: int, where: str) -> None:
    """Read the decoded body, giving up past ``max_bytes``; prawcore's ``.json()`` reuses it."""
    declared = response.headers.get("Content-Length", "")
    body = b""
    if not (declared.isdigit() and int(declared) > max_bytes):
        for chunk in response.iter_content(chunk_size=64 * 1024):
            if len(body) + len(chunk) > max_bytes:
                break
            body += chunk
        else:
            response._content = body  # where requests' own `.content` keeps it
            return
    response.close()
    raise FetchError(f"response from {where} is larger than {max_bytes} bytes")


def _transport_error(exc: requests.RequestException, where: str, http: HttpSettings) -> FetchError:
    """A secret-free message: requests' own text embeds URLs and urllib3 reprs."""
    if isinstance(exc, requests.ConnectTimeout):
        return FetchError(f"timed out connecting to {where} after {http.connect_timeout}s")
    if isinstance(exc, requests.ReadTimeout) or "ReadTimeoutError" in repr(exc.args):
        return FetchError(f"timed out reading from {where} (read timeout {http.read_timeout}s)")
    return FetchError(f"request to {where} failed ({type(exc).__name__})")


@contextmanager
def reddit_errors(budget: RateBudget, where: str) -> Iterator[None]:
    """prawcore and praw exceptions as kuulo's; messages are rebuilt, never passed through."""
    try:
        yield
    except TooManyRequests as exc:
        wait = parse_retry_after(exc.retry_after) or budget.seconds_to(budget.resets_at)
        raise RateLimited(f"{where}: HTTP 429 from Reddit", retry_after=wait or 60.0) from None
    except OAuthException as exc:
        raise permanent_error(f"Reddit refused the app ({exc.error}); {CREDENTIAL_HELP}") from None
    except Redirect as exc:
        raise permanent_error(f"{where}: redirected to {exc.path} (no such subreddit?)") from None
    except BadJSON:
        raise FetchError(f"{where}: Reddit's answer is not JSON") from None
    except ResponseException as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise CollectorError(
                f"{where}: HTTP {status}, Reddit refused the app's client id and secret"
                f" ({CREDENTIAL_HELP})", permanent=True,
            ) from None  # fmt: skip
        raise CollectorError(f"{where}: HTTP {status}", permanent=400 <= status < 500) from None
    except (PrawcoreException, PRAWException) as exc:
        raise permanent_error(f"{where}: praw refused ({type(exc).__name__})") from None
    except (KeyError, TypeError, ValueError) as exc:  # e.g. a token answer without expires_in
        raise FetchError(f"{where}: malformed answer from Reddit ({type(exc).__name__})") from None


def permanent_error(message: str) -> CollectorError:
    return CollectorError(message, permanent=True)


def page_params(params: Mapping[str, str | int], after: str | None) -> dict[str, str | int]:
    return {**params, "after": after} if after else dict(params)


def parse_listing(answer: object, where: str) -> tuple[list[Any], str | None]:
    """``data.children`` and ``data.after`` of a Listing; anything else is a failed fetch."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    children = data.get("children") if isinstance(data, Mapping) else None
    if not isinstance(answer, Mapping) or answer.get("kind") != "Listing":
        raise FetchError(f"{where}: Reddit's answer is not a Listing")
    if not isinstance(data, Mapping) or not isinstance(children, list):
        raise FetchError(f"{where}: Reddit's Listing has no children")
    after = data.get("after")
    return children, after if isinstance(after, str) and after else None
