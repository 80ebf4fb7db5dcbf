"""The X API v2 wire level: search payloads -> Mentions, HTTP failures -> kuulo errors, and
the adapter that carries tweepy's requests.

Kept apart from :mod:`collectors.x` (which owns the polling loop, rate-limit bookkeeping and the
cursor) so these rules can be read and tested on their own. The payload is untrusted JSON: every
field is type-checked, ids stay exact strings (64-bit tweet ids do not survive a float), and a
record that cannot be identified becomes :class:`~kuulo.model.Skipped` instead of failing its
page.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util import Retry

from kuulo.errors import CollectorError, FetchError
from kuulo.http import safe_url
from kuulo.model import Mention, Skipped
from kuulo.settings import HttpSettings

SNOWFLAKE_EPOCH_MS = 1288834974657
"""Twitter's snowflake epoch (2010-11-04): an id's top bits are milliseconds since then."""
_MIN_SNOWFLAKE = 1 << 32  # smaller ids predate snowflakes and carry no timestamp
_LEGACY_LANGUAGES = {"in": "id", "iw": "he", "ji": "yi"}  # codes X still uses for these
_DIGITS = re.compile(r"[0-9]{1,20}")
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,50}")  # goes into a URL: nothing else is let through
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+")
CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class Page:
    """One search response, its shape checked but its records not yet mapped."""

    tweets: list[Any] = field(default_factory=list)
    users: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    newest_id: str | None = None
    next_token: str | None = None
    errors: int = 0  # partial errors X reports beside the data (e.g. a suspended author)


def parse_page(body: bytes, where: str) -> Page:
    """Parse a 200 response body; a body that is not a search response is a failed fetch."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise FetchError(f"{where} returned a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise FetchError(f"{where} returned JSON that is not a search response")
    data = payload.get("data", [])
    includes = payload.get("includes", {})
    meta = payload.get("meta", {})
    if not isinstance(data, list) or not isinstance(includes, dict) or not isinstance(meta, dict):
        raise FetchError(f"{where} returned a search response of an unexpected shape")
    users = includes.get("users", [])
    by_id = {
        uid: user
        for user in (users if isinstance(users, list) else [])
        if isinstance(user, dict) and (uid := tweet_id(user.get("id"))) is not None
    }
    token = meta.get("next_token")
    errors = payload.get("errors")
    return Page(
        tweets=data,
        users=by_id,
        newest_id=tweet_id(meta.get("newest_id")),
        next_token=token if isinstance(token, str) and token else None,
        errors=len(errors) if isinstance(errors, list) else 0,
    )


def tweet_id(value: object) -> str | None:
    """A tweet or user id as an exact decimal string; ``None`` for anything else.

    X sends ids as JSON strings; an integer is accepted (Python parses it exactly), a float or
    bool never (a float has already lost the low digits of a 64-bit id).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value) and int(value) > 0:
        return str(int(value))
    return None


def newest(*ids: str | None) -> str | None:
    """The largest id (ids are time-ordered snowflakes, compared as numbers, not text)."""
    present = [int(i) for i in ids if i is not None]
    return str(max(present)) if present else None


def snowflake_time(value: str) -> datetime | None:
    """When a snowflake id was minted; ``None`` for pre-snowflake ids."""
    number = int(value)
    if number < _MIN_SNOWFLAKE:
        return None
    return datetime.fromtimestamp((number >> 22) / 1000 + SNOWFLAKE_EPOCH_MS / 1000, UTC)


def language(value: object) -> str | None:
    """ISO 639-1 code from X's ``lang``; ``None`` for X's pseudo codes.

    X tags undetectable posts ``und``, media-only ``qme``, hashtag-only ``qht``, mention-only
    ``qam``, very short ``qst`` and no-language ``zxx``: none is a language, so the pipeline
    detects one instead. Old codes X still emits (``in``, ``iw``) become today's.
    """
    if not isinstance(value, str):
        return None
    code = value.strip().lower()
    code = _LEGACY_LANGUAGES.get(code, code)
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


class _BadRecord(ValueError):
    """A tweet that cannot become a Mention; ``str()`` is the reason."""


def map_page(
    page: Page, source_name: str, seen: set[str], now: datetime
) -> tuple[list[Mention], list[Skipped]]:
    """Mentions for a page; bad and duplicate records are skipped with their reason.

    ``seen`` spans the whole run (every page of every brand): the first copy of an id wins.
    """
    mentions: list[Mention] = []
    skipped: list[Skipped] = []
    for tweet in page.tweets:
        native_id = tweet_id(tweet.get("id")) if isinstance(tweet, dict) else None
        try:
            mention = to_mention(tweet, page.users, source_name, now)
        except _BadRecord as exc:
            skipped.append(Skipped(str(exc), native_id))
            continue
        if mention.native_id in seen:
            skipped.append(Skipped("duplicate tweet id in this run; kept the first", native_id))
            continue
        seen.add(mention.native_id)
        mentions.append(mention)
    return mentions, skipped


def to_mention(
    tweet: object, users: Mapping[str, Mapping[str, Any]], source_name: str, now: datetime
) -> Mention:
    """Map one ``data`` record; raises :class:`_BadRecord` when it has no usable id or text."""
    if not isinstance(tweet, dict):
        raise _BadRecord(f"tweet record is a {type(tweet).__name__}, not an object")
    native_id = tweet_id(tweet.get("id"))
    if native_id is None:
        raise _BadRecord("tweet has no id, or its id is not a numeric string")
    text = _long_text(tweet)
    if text is None:
        raise _BadRecord("tweet has no text, or its text is not a string")
    author_id = tweet_id(tweet.get("author_id"))
    author = users.get(author_id) if author_id else None
    handle = _handle(author.get("username")) if author else None
    metrics = _dict(tweet.get("public_metrics"))
    return Mention(
        source="x",
        source_name=source_name,
        native_id=native_id,
        url=f"https://x.com/{handle or 'i/web'}/status/{native_id}",
        text=text,
        published_at=_created_at(tweet.get("created_at"), now),
        author_name=_str(author.get("name")) if author else None,
        author_handle=handle,
        author_followers=_count(_dict(author.get("public_metrics")), "followers_count")
        if author
        else None,
        language=language(tweet.get("lang")),
        likes=_count(metrics, "like_count"),
        replies=_count(metrics, "reply_count"),
        reposts=_count(metrics, "retweet_count"),
        quotes=_count(metrics, "quote_count"),
        parent_id=_replied_to(tweet.get("referenced_tweets")),
        thread_id=tweet_id(tweet.get("conversation_id")),
        raw={"tweet": tweet, "author": dict(author) if author else None},
    )


def _long_text(tweet: Mapping[str, Any]) -> str | None:
    """The full text: posts over 280 characters carry it in ``note_tweet.text``."""
    note = _str(_dict(tweet.get("note_tweet")).get("text"))
    text = tweet.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    return note or text


def _created_at(value: object, now: datetime) -> datetime | None:
    """``2026-11-25T11:58:03.000Z`` -> aware UTC; ``None`` if unparsable or a day ahead."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    when = when.astimezone(UTC)
    return None if when > now + timedelta(days=1) else when


def _replied_to(value: object) -> str | None:
    for ref in value if isinstance(value, list) else []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return tweet_id(ref.get("id"))
    return None


def _handle(value: object) -> str | None:
    return value if isinstance(value, str) and _HANDLE.fullmatch(value) else None


def _count(metrics: Mapping[str, Any], key: str) -> int | None:
    value = metrics.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# -- transport: the adapter, headers and errors ------------------------------------------------


class XAdapter(HTTPAdapter):
    """Sends tweepy's ``api.twitter.com`` requests to ``base_url`` within the ``[http]`` limits.

    Only connection failures are retried (nothing reached X, nothing was billed). A garbled
    ``x-rate-limit-*`` header is dropped, because tweepy ``int()``s the reset and would raise
    a bare ValueError out of the 429 path.
    """

    def __init__(self, base_url: str, http: HttpSettings) -> None:
        retry = Retry(
            total=http.retries, connect=http.retries, read=0, status=0, other=0,
            backoff_factor=http.backoff_factor, raise_on_status=False,
        )  # fmt: skip
        super().__init__(max_retries=retry)
        parts = urlsplit(base_url)
        self._base = (parts.scheme, parts.netloc, parts.path.rstrip("/"))
        self._timeout = (http.connect_timeout, http.read_timeout)
        self._max_bytes = http.max_bytes

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        scheme, netloc, prefix = self._base
        url = urlsplit(request.url or "")
        request.url = urlunsplit((scheme, netloc, prefix + url.path, url.query, ""))
        response = super().send(
            request, stream=True, timeout=timeout or self._timeout, verify=verify, cert=cert,
            proxies=proxies,
        )  # fmt: skip
        for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
            if name in response.headers and header_int(response.headers, name) is None:
                del response.headers[name]
        if not stream:
            response._content = self._read_capped(response)
        return response

    def _read_capped(self, response: requests.Response) -> bytes:
        """The whole body, or FetchError once it passes ``max_bytes`` (tweepy reads blindly)."""
        too_large = FetchError(
            f"response from {safe_url(response.url)} is larger than {self._max_bytes} bytes"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            response.close()
            raise too_large
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_content(CHUNK_SIZE):
            total += len(chunk)
            if total > self._max_bytes:
                response.close()
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


class _RedactBearer(logging.Filter):
    """tweepy logs every request's headers at DEBUG, bearer token included: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer" in message:
            record.msg, record.args = _BEARER.sub(r"\1[redacted]", message), ()
        return True


def redact_tweepy_logs() -> None:
    """Install the token mask on tweepy's client logger, once per process."""
    logger = logging.getLogger("tweepy.client")  # a logger's filters skip its children
    if not any(isinstance(f, _RedactBearer) for f in logger.filters):
        logger.addFilter(_RedactBearer())


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A non-negative integer header (``x-rate-limit-reset`` is epoch seconds); else None."""
    value = (headers.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) <= 12 else None


def http_error(exc: tweepy.HTTPException, where: str, token: str) -> CollectorError:
    """401/403 and other 4xx are permanent (asking again cannot help); 5xx is transient."""
    status = int(exc.response.status_code)
    detail = _detail(exc, token)
    if status == 401:
        return CollectorError(
            f"X rejected the bearer token (HTTP 401{detail}); check bearer_token", permanent=True
        )
    if status == 403:
        return CollectorError(f"X refused access (HTTP 403{detail})", permanent=True)
    if status >= 500:
        return FetchError(f"X server error (HTTP {status}{detail}) from {where}")
    return FetchError(f"X rejected the request (HTTP {status}{detail})", permanent=True)


def _detail(exc: tweepy.HTTPException, token: str) -> str:
    """X's own explanation (``errors[].message`` or the problem ``detail``), token-free."""
    messages = [m for m in exc.api_messages if isinstance(m, str)]
    if not messages:
        try:
            body = exc.response.json()
        except ValueError:
            body = None
        problem = body if isinstance(body, dict) else {}
        messages = [v for k in ("detail", "title") if isinstance(v := problem.get(k), str)]
    text = " ".join("; ".join(messages[:3]).split())[:300]
    if token:
        text = text.replace(token, "[redacted]")
    return f": {text}" if text else ""


def transport_error(exc: requests.RequestException, where: str, http: HttpSettings) -> FetchError:
    """A secret-free message: requests' own includes the URL and urllib3 reprs."""
    if isinstance(exc, requests.ConnectTimeout):
        return FetchError(f"timed out connecting to {where} after {http.connect_timeout}s")
    if isinstance(exc, requests.Timeout) or _caused_by(exc, ReadTimeoutError):
        return FetchError(f"timed out reading from {where} after {http.read_timeout}s")
    if isinstance(exc, requests.ConnectionError):
        return FetchError(f"could not connect to {where}")
    return FetchError(f"request to {where} failed ({type(exc).__name__})")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is wrapped in ``exc``: requests nests urllib3 errors in ``args`` and
    ``reason`` (a read timeout that exhausted the retries arrives as a ConnectionError)."""
    stack: list[object] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        stack += [*current.args, getattr(current, "reason", None), current.__cause__]
    return False
