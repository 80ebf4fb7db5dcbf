"""X (Twitter) recent search through tweepy, one query per brand.

Why it looks the way it does:

* **One query per brand**, not one combined query: each brand keeps its own ``since_id``, a
  brand added later backfills without re-reading the others, and a brand whose query is too
  long for X's 512 characters fails loudly on its own. A post matching two brands is fetched
  twice (billed twice at most once a day: X de-duplicates reads per UTC day) and stored once.
* **tweepy hard-codes ``https://api.twitter.com``** and passes no timeout, so an
  :class:`~collectors.x_payload.XAdapter` mounted on the client's session rewrites scheme and
  host to ``base_url``, applies ``[http]`` timeouts and the body cap, and never retries a
  response (a retry is another billed read; a 429 must wait for its reset, not be re-sent).
* **The cursor** is ``{"brands": {name: {"since_id"}}, "reads": {"month", "posts"},
  "rate_limit": {"remaining", "reset"}, "throttled": n}``. A brand's ``since_id`` moves only
  with the last page of its poll, so a crash between pages re-reads (and upserts) instead of
  skipping. Earlier pages carry the same cursor with the old ``since_id`` but fresh read and
  rate-limit counters: those are facts about requests already sent, safe to save at any time.
* **Never sleeps**: rate limits, blind 429s and the monthly budget raise
  :class:`~kuulo.errors.RateLimited` with ``retry_after``, which pauses only this source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import Field, field_validator

from collectors.x_payload import (
    Page,
    XAdapter,
    header_int,
    http_error,
    map_page,
    newest,
    parse_page,
    redact_tweepy_logs,
    snowflake_time,
    transport_error,
    tweet_id,
)
from kuulo.errors import CollectorError, QueryError, RateLimited
from kuulo.http import safe_url
from kuulo.matching import X_MAX_QUERY_LENGTH, Brand
from kuulo.model import Batch, Cursor
from kuulo.protocols import CollectorContext, PluginConfig
from kuulo.settings import Duration, Secret

TWEEPY_HOST = "https://api.twitter.com"  # what tweepy sends to, whatever base_url says
SEARCH_PATH = "/2/tweets/search/recent"
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=10)  # X: 7 days; margin for clock skew
MIN_BACKFILL = timedelta(minutes=1)  # X refuses a start_time less than 10 s ago
BLIND_BACKOFF = 60.0  # first wait after a 429 that names no reset; doubles per repeat
MAX_WAIT = 3600.0
TWEET_FIELDS = (
    "author_id", "conversation_id", "created_at", "in_reply_to_user_id", "lang", "note_tweet",
    "public_metrics", "referenced_tweets",
)  # fmt: skip
USER_FIELDS = ("name", "username", "public_metrics")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z]{2,4})?")


class XConfig(PluginConfig):
    """``kind = "x"``: X API v2 recent search for every brand of the source."""

    bearer_token: Secret
    base_url: str = TWEEPY_HOST
    backfill: Duration = timedelta(hours=24)  # first run only; clamped to X's 7-day window
    exclude_retweets: bool = True
    languages: tuple[str, ...] = ()  # e.g. ("en", "fi"): adds (lang:en OR lang:fi)
    max_pages: int = Field(10, ge=1, le=100)  # per brand per run; 100 posts a page
    monthly_read_budget: int | None = Field(None, ge=1)  # posts per calendar month (UTC)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(f"must be an http:// or https:// base URL, got {safe_url(value)!r}")
        return value.rstrip("/")

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(dict.fromkeys(code.strip().lower() for code in value))
        if bad := [code for code in codes if not _LANGUAGE.fullmatch(code)]:
            raise ValueError(f"not language codes like 'en' or 'fi': {', '.join(bad)}")
        return codes


def build_query(brand: Brand, config: XConfig) -> str:
    """The brand query in X syntax plus the source's filters; permanent error if too long."""
    try:
        query = brand.query.to_x()
    except QueryError as exc:
        raise CollectorError(f"brand {brand.name!r}: {exc}", permanent=True) from None
    extra = ["-is:retweet"] if config.exclude_retweets else []
    if config.languages:
        langs = " OR ".join(f"lang:{code}" for code in config.languages)
        extra.append(f"({langs})" if len(config.languages) > 1 else langs)
    if extra:
        query = " ".join([f"({query})", *extra])
    if len(query) > X_MAX_QUERY_LENGTH:
        raise CollectorError(
            f"brand {brand.name!r}: the X query is {len(query)} characters with this source's"
            f" filters; X allows at most {X_MAX_QUERY_LENGTH} (shorten the brand query or"
            " drop some languages)",
            permanent=True,
        )
    return query


def _clamp(seconds: float) -> float:
    return min(max(seconds, 1.0), MAX_WAIT)


def _next_month(now: datetime) -> datetime:
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


@dataclass
class _State:
    """The cursor unpacked: committed ``since_id``s plus read and rate-limit bookkeeping."""

    since: dict[str, str]
    month: str
    posts: int = 0
    remaining: int | None = None
    reset: int | None = None  # epoch seconds, as X sends it
    throttled: int = 0  # consecutive 429s that named no reset
    unsaved: bool = False  # a 429 taught us something no page has carried yet

    @classmethod
    def load(cls, cursor: Cursor | None, brands: Sequence[str], now: datetime) -> _State:
        cursor = cursor or {}
        old = _dict(cursor.get("brands"))
        since = {n: s for n in brands if (s := tweet_id(_dict(old.get(n)).get("since_id")))}
        reads, limit = _dict(cursor.get("reads")), _dict(cursor.get("rate_limit"))
        state = cls(since, str(reads.get("month")), _natural(reads.get("posts")) or 0)
        state.roll(now)
        state.remaining, state.reset = (
            _natural(limit.get("remaining")),
            _natural(limit.get("reset")),
        )
        state.throttled = _natural(cursor.get("throttled")) or 0
        return state

    def roll(self, now: datetime) -> None:
        """Start a new month's count when the calendar month (UTC) changed."""
        month = now.astimezone(UTC).strftime("%Y-%m")
        if month != self.month:
            self.month, self.posts = month, 0

    def read(self, posts: int, headers: Mapping[str, str], now: datetime) -> None:
        """Record a successful page: its posts and the rate-limit window it reported."""
        self.roll(now)
        self.posts += posts
        remaining = header_int(headers, "x-rate-limit-remaining")
        reset = header_int(headers, "x-rate-limit-reset")
        self.remaining, self.reset = (remaining, reset) if reset is not None else (None, None)
        self.throttled = 0

    def snapshot(self) -> Cursor:
        cursor: Cursor = {
            "brands": {name: {"since_id": since} for name, since in self.since.items()},
            "reads": {"month": self.month, "posts": self.posts},
        }
        if self.remaining is not None and self.reset is not None:
            cursor["rate_limit"] = {"remaining": self.remaining, "reset": self.reset}
        if self.throttled:
            cursor["throttled"] = self.throttled
        self.unsaved = False
        return cursor


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _natural(value: object) -> int | None:
    """A non-negative int from a stored cursor (hand-edited or older versions may hold junk)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass
class _Run:
    requests: int = 0
    posts: int = 0
    seen: set[str] = field(default_factory=set)


class XCollector:
    """Recent search per brand, page by page, within X's rate limits and a monthly budget."""

    kind: ClassVar[str] = "x"
    Config: ClassVar[type[PluginConfig]] = XConfig
    credential_help: ClassVar[str] = (
        "create an app at https://developer.x.com and copy its bearer token; the X API is"
        " pay-per-use, about $0.005 per post read, so set monthly_read_budget"
    )

    def __init__(self, config: XConfig, ctx: CollectorContext) -> None:
        self.config = config
        self.ctx = ctx
        self.token = config.bearer_token.get_secret_value()
        self.where = safe_url(config.base_url + SEARCH_PATH)
        self.queries = [(brand.name, build_query(brand, config)) for brand in ctx.brands]
        redact_tweepy_logs()

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        if not self.token:
            raise CollectorError("no X bearer token is configured", permanent=True)
        if not self.queries:
            self.ctx.logger.warning("%s: no brands configured, nothing to search", self.kind)
            return
        state = _State.load(cursor, [name for name, _ in self.queries], self.ctx.now())
        run = _Run()
        with closing(self.ctx.session_factory()) as session:
            client = self._client(session)
            try:
                for brand, query in self.queries:
                    yield from self._poll(client, brand, query, state, run)
            finally:
                self._log_reads(state, run)

    def _client(self, session: requests.Session) -> Any:
        session.mount(TWEEPY_HOST + "/", XAdapter(self.config.base_url, self.ctx.http))
        client = tweepy.Client(
            bearer_token=self.token, return_type=requests.Response, wait_on_rate_limit=False
        )
        client.session.close()
        client.session = session
        client.user_agent = self.ctx.http.user_agent
        return client

    def _poll(
        self, client: Any, brand: str, query: str, state: _State, run: _Run
    ) -> Iterator[Batch]:
        """Every page of one brand's search; only the last one moves its ``since_id``."""
        window = self._window(brand, state)
        found: str | None = None
        token: str | None = None
        for number in range(1, self.config.max_pages + 1):
            try:
                page = self._fetch(client, query, window, token, state, run)
            except CollectorError:
                if state.unsaved:  # keep the 429's lesson (reset, backoff) past this run
                    yield Batch(mentions=[], cursor=state.snapshot())
                raise
            mentions, skipped = map_page(page, self.ctx.source_name, run.seen, self.ctx.now())
            found = newest(found, page.newest_id, *(m.native_id for m in mentions))
            token = page.next_token
            last = token is None or number == self.config.max_pages
            if last and token is not None:
                self.ctx.logger.warning(
                    "%s: brand %r has more than %d pages of new posts; the older ones were not"
                    " read (raise max_pages or poll more often)",
                    self.ctx.source_name, brand, self.config.max_pages,
                )  # fmt: skip
            if last and found is not None:
                state.since[brand] = newest(state.since.get(brand), found) or found
            yield Batch(mentions, state.snapshot(), skipped)
            if last:
                return

    def _window(self, brand: str, state: _State) -> dict[str, Any]:
        """``since_id`` when it is still inside X's 7-day window, else a ``start_time``."""
        now = self.ctx.now()
        oldest = now - SEARCH_WINDOW
        since = state.since.get(brand)
        if since is None:
            backfill = min(max(self.config.backfill, MIN_BACKFILL), SEARCH_WINDOW)
            return {"start_time": now - backfill}
        minted = snowflake_time(since)
        if minted is None or minted > oldest:
            return {"since_id": since}
        self.ctx.logger.warning(
            "%s: brand %r was last collected up to %s, beyond X's 7-day search window;"
            " posts before %s cannot be collected",
            self.ctx.source_name, brand, f"{minted:%Y-%m-%d %H:%M} UTC",
            f"{oldest:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
        del state.since[brand]
        return {"start_time": oldest}

    def _fetch(
        self, client: Any, query: str, window: dict[str, Any], token: str | None, state: _State,
        run: _Run,
    ) -> Page:  # fmt: skip
        now = self.ctx.now()
        self._check_budget(state, now)
        self._check_rate_limit(state, now)
        params = {
            **window,
            "tweet_fields": list(TWEET_FIELDS),
            "user_fields": list(USER_FIELDS),
            "expansions": ["author_id"],
            "max_results": self._page_size(state),
        }
        if token is not None:
            params["next_token"] = token
        try:
            response = client.search_recent_tweets(query, **params)
        except tweepy.TooManyRequests as exc:
            raise self._too_many(exc.response.headers, state, now) from exc
        except tweepy.HTTPException as exc:
            raise http_error(exc, self.where, self.token) from exc
        except requests.RequestException as exc:
            raise transport_error(exc, self.where, self.ctx.http) from exc
        page = parse_page(response.content, self.where)
        run.requests += 1
        run.posts += len(page.tweets)
        state.read(len(page.tweets), response.headers, now)
        if page.errors:
            self.ctx.logger.info("%s: X reported %d partial errors", self.where, page.errors)
        return page

    def _page_size(self, state: _State) -> int:
        """100, or what is left of the budget (X's minimum is 10), so a page barely overshoots."""
        budget = self.config.monthly_read_budget
        return 100 if budget is None else min(100, max(10, budget - state.posts))

    def _check_budget(self, state: _State, now: datetime) -> None:
        state.roll(now)
        budget = self.config.monthly_read_budget
        if budget is not None and state.posts >= budget:
            resume = _next_month(now)
            raise RateLimited(
                f"monthly read budget of {budget} posts reached; paused until {resume:%Y-%m-%d}",
                retry_after=(resume - now).total_seconds(),
            )

    def _check_rate_limit(self, state: _State, now: datetime) -> None:
        """Never send while the last window said ``remaining: 0`` and its reset is ahead."""
        if state.remaining != 0 or state.reset is None:
            return
        wait = state.reset - now.timestamp()
        if wait <= 0:
            state.remaining = state.reset = None
            return
        raise RateLimited(
            f"X rate limit window used up (x-rate-limit-remaining: 0); {self._until(now, wait)}",
            retry_after=_clamp(wait),
        )

    def _too_many(self, headers: Mapping[str, str], state: _State, now: datetime) -> RateLimited:
        state.unsaved = True
        reset = header_int(headers, "x-rate-limit-reset")
        if reset is not None:
            state.remaining, state.reset, state.throttled = 0, reset, 0
            wait = _clamp(reset - now.timestamp())
            return RateLimited(
                f"X rate limit reached (HTTP 429); {self._until(now, wait)}", retry_after=wait
            )
        wait = min(BLIND_BACKOFF * 2 ** min(state.throttled, 10), MAX_WAIT)
        state.throttled += 1
        return RateLimited(
            f"X rate limit reached (HTTP 429 without x-rate-limit-reset); {self._until(now, wait)}",
            retry_after=wait,
        )

    @staticmethod
    def _until(now: datetime, wait: float) -> str:
        return f"next request after {now + timedelta(seconds=_clamp(wait)):%H:%M:%S} UTC"

    def _log_reads(self, state: _State, run: _Run) -> None:
        budget = self.config.monthly_read_budget
        self.ctx.logger.info(
            "%s: read %d posts in %d requests; %d posts read in %s%s",
            self.ctx.source_name, run.posts, run.requests, state.posts, state.month,
            f" (budget {budget})" if budget else "",
        )  # fmt: skip
