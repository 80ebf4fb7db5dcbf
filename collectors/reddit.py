"""Reddit: each brand's query through Reddit search (and optionally new comments), via praw.

Why it is built this way:

* praw 8, read-only OAuth (client credentials). praw builds each request (``Subreddit.search``
  and ``.comments`` give the path and parameters praw itself sends), but pages are fetched with
  ``Reddit.request``, which returns the raw ``Listing`` JSON: praw's models are lazy (reading a
  missing attribute sends another request), one malformed child would fail a whole page, and
  ``ListingGenerator`` hides the page boundaries that batches and cursors need.
* :class:`~collectors.reddit_http.RedditRequestor` replaces prawcore's HTTP layer so ``[http]``
  holds here too, and :class:`~collectors.reddit_http.RateBudget` keeps prawcore from sleeping
  for minutes.
* One cursor mark per brand (and one for comments): the newest ``created_utc`` stored and the
  fullnames seen at that second. Only a stream's last page carries the cursor, so a crash
  mid-stream re-reads the stream instead of skipping what was not stored.
* Reddit search indexes some posts minutes late, so a poll reaches ``overlap`` (10 minutes)
  before the mark: what was stored comes again and is kept unchanged (upserts are idempotent),
  late posts are found; the mark never moves backwards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import praw
import requests
from praw.models import ListingGenerator
from pydantic import Field, field_validator, model_validator

from collectors.reddit_http import (
    CREDENTIAL_HELP,
    RateBudget,
    RedditRequestor,
    page_params,
    parse_listing,
    permanent_error,
    reddit_errors,
)
from kuulo.http import safe_url
from kuulo.matching import BrandQuery
from kuulo.model import Batch, Cursor, Mention, Skipped
from kuulo.protocols import CollectorContext, PluginConfig
from kuulo.settings import Duration, DurationOrZero, Secret

REDDIT_WEB = "https://www.reddit.com"
PAGE_SIZE = 100  # Reddit's maximum per listing request
MAX_MARK_IDS = 100
MAX_FUTURE = timedelta(days=1)
ZERO = timedelta(0)
TIME_SLACK = timedelta(minutes=2)  # clock skew allowance when picking the search time filter
_TIME_FILTERS = (("hour", 1), ("day", 24), ("week", 168), ("month", 672), ("year", 8760))
_GONE = frozenset({"", "[deleted]", "[removed]"})
_SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")
_FULLNAME = re.compile(r"t[13]_[0-9a-z]{1,16}")
_QUERY_PART = re.compile(r'"[^"]*"|[()]|-(?=[\w"(])|[^\s()"]+')


class RedditConfig(PluginConfig):
    client_id: Secret
    client_secret: Secret
    user_agent: str = Field(min_length=7)  # "<platform>:<app id>:<version> (by /u/<you>)"
    subreddits: tuple[str, ...] = ()  # default: r/all
    comments: bool = False  # also read the new comments of `subreddits`
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    backfill: Duration = timedelta(hours=24)
    max_pages: int = Field(5, ge=1, le=10)  # listings end at 1000 items = 10 pages
    overlap: DurationOrZero = timedelta(minutes=10)  # re-read before the mark (late items)

    @field_validator("subreddits")
    @classmethod
    def _check_subreddits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = [v.strip().removeprefix("/").removeprefix("r/") for v in value]
        for name in names:
            if not _SUBREDDIT.fullmatch(name):
                raise ValueError(f"{name!r} is not a subreddit name (3-21 letters, digits or _)")
        return tuple(dict.fromkeys(names))

    @field_validator("base_url", "auth_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, got {safe_url(value)!r}")
        return value.rstrip("/")  # prawcore appends "/api/v1/access_token" verbatim

    @model_validator(mode="after")
    def _comments_need_subreddits(self) -> RedditConfig:
        if self.comments and not self.subreddits:
            raise ValueError("comments = true needs subreddits (r/all's comments are a firehose)")
        return self


def to_reddit_query(query: BrandQuery) -> str:
    """The brand query in Reddit's search syntax.

    ``to_google_news()`` already drops what Reddit lacks (handles and hashtags become words, a
    prefix its stem) and emits only words, quoted phrases, parentheses, ``OR`` and a leading
    ``-``. Reddit documents ``AND``/``OR``/``NOT`` but not ``-``, so exclusions become ``NOT``
    and implicit ANDs are spelled out. The pipeline re-checks every item locally anyway.
    """
    out: list[str] = []
    for part in _QUERY_PART.findall(query.to_google_news()):
        part = "NOT" if part == "-" else part
        if out and out[-1] not in ("(", "OR", "AND", "NOT") and part not in (")", "OR", "AND"):
            out.append("AND")
        out.append(part)
    return " ".join(out).replace("( ", "(").replace(" )", ")")


# -- mapping --------------------------------------------------------------------------------------


class _BadRecord(ValueError):
    def __init__(self, reason: str, native_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.native_id = reason, native_id


def to_mention(child: object, source_name: str, now: datetime) -> tuple[Mention, float] | Skipped:
    """A Listing child (``{"kind": "t3"|"t1", "data": {...}}``) and its ``created_utc``."""
    try:
        kind = child.get("kind") if isinstance(child, Mapping) else None
        data = child.get("data") if isinstance(child, Mapping) else None
        if kind not in ("t1", "t3") or not isinstance(data, Mapping):
            raise _BadRecord("not a submission (t3) or comment (t1) record")
        fullname = data.get("name")
        if fullname is None and isinstance(data.get("id"), str):
            fullname = f"{kind}_{data['id']}"
        if (
            not (isinstance(fullname, str) and _FULLNAME.fullmatch(fullname))
            or fullname[:2] != kind
        ):
            raise _BadRecord("record has no valid id (fullname)")
        created = data.get("created_utc")
        if isinstance(created, bool) or not isinstance(created, int | float):
            raise _BadRecord("created_utc is missing or not a number", fullname)
        if not 0 < created < (now + MAX_FUTURE).timestamp():
            raise _BadRecord("created_utc is out of range", fullname)
        return _mention(str(kind), data, fullname, source_name, float(created)), float(created)
    except _BadRecord as bad:
        return Skipped(bad.reason, bad.native_id)


def _str(data: Mapping[str, Any], key: str, fullname: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _BadRecord(f"{key} is not a string", fullname)
    return value


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mention(
    kind: str, data: Mapping[str, Any], fullname: str, source: str, created: float
) -> Mention:
    title, link = _str(data, "title", fullname), _str(data, "url", fullname)
    body = _str(data, "selftext" if kind == "t3" else "body", fullname)
    thread = fullname if kind == "t3" else _str(data, "link_id", fullname)
    # A link post has no body: its title is what people react to, and what gets scored.
    text = (body if body not in _GONE else None) or (title or link if kind == "t3" else None)
    if not text:
        raise _BadRecord("no text (empty, deleted or removed)", fullname)
    author = data.get("author")
    return Mention(
        source="reddit",
        source_name=source,
        native_id=fullname,
        url=_url(_str(data, "permalink", fullname), fullname, thread),
        text=text,
        title=title,
        published_at=datetime.fromtimestamp(created, UTC),
        author_name=author if isinstance(author, str) and author not in _GONE else None,
        likes=_int(data.get("score")),
        replies=_int(data.get("num_comments")),
        parent_id=_str(data, "parent_id", fullname),
        thread_id=thread,
        raw=_raw(kind, data),
    )


def _url(permalink: str | None, fullname: str, thread: str | None) -> str:
    if permalink and permalink.startswith("/"):
        return REDDIT_WEB + permalink
    if thread is None:
        return ""
    return f"{REDDIT_WEB}/comments/{thread[3:]}/" + (
        "" if thread == fullname else f"_/{fullname[3:]}/"
    )


def _raw(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Extra fields for the dashboard and debugging: JSON scalars only."""
    raw: dict[str, Any] = {"kind": kind}
    for key in ("subreddit", "permalink", "score", "num_comments", "over_18", "url", "link_title"):
        value = data.get(key)
        if isinstance(value, str | bool | int) or (
            isinstance(value, float) and math.isfinite(value)
        ):
            raw[key] = value
    return raw


# -- cursor ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stream:
    """One search (a brand's) or the comments listing; ``signature`` is stored in its mark, so a
    changed query or subreddit list starts afresh from ``backfill``."""

    group: str  # "brands" or "comments": the cursor key
    name: str  # the brand; "" for comments
    signature: str
    query: str | None = None  # None: the subreddits' new comments


@dataclass(frozen=True)
class _Mark:
    """Where a stream stopped: the newest second stored and the fullnames seen at it."""

    created: float
    ids: frozenset[str] = frozenset()

    def advance(self, created: float, fullname: str) -> _Mark:
        if created > self.created:
            return _Mark(created, frozenset({fullname}))
        if created == self.created and len(self.ids) < MAX_MARK_IDS:
            return _Mark(created, self.ids | {fullname})
        return self


def _load_marks(cursor: Cursor | None, streams: list[_Stream]) -> dict[_Stream, _Mark]:
    marks = {}
    for stream in streams:
        stored = (cursor or {}).get(stream.group)
        if stream.group == "brands":
            stored = stored.get(stream.name) if isinstance(stored, Mapping) else None
        if not isinstance(stored, Mapping) or stored.get("scope") != stream.signature:
            continue
        created, ids = stored.get("created"), stored.get("ids")
        if isinstance(created, int | float) and not isinstance(created, bool):
            valid = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
            marks[stream] = _Mark(float(created), frozenset(valid))
    return marks


def _snapshot(marks: Mapping[_Stream, _Mark]) -> Cursor:
    """The merged cursor; brands no longer configured are dropped."""
    out: Cursor = {"brands": {}}
    for stream, mark in marks.items():
        dumped = {"scope": stream.signature, "created": mark.created, "ids": sorted(mark.ids)}
        if stream.group == "brands":
            out["brands"][stream.name] = dumped
        else:
            out["comments"] = dumped
    return out


@dataclass
class _Progress:
    """One stream's position while a poll pages through it."""

    floor: float  # items older than this are stored already (or beyond backfill)
    old: _Mark | None
    newest: _Mark | None = None
    reached: bool = False  # an item older than the floor was seen: stop paging
    taken: int = 0

    def __post_init__(self) -> None:
        self.newest = self.old

    def take(
        self, items: list[tuple[Mention, float] | Skipped], seen: set[str]
    ) -> tuple[list[Mention], list[Skipped]]:
        """The page's new mentions (each fullname once per poll) and its skipped records."""
        mentions: list[Mention] = []
        skipped = [item for item in items if isinstance(item, Skipped)]
        for mention, created in (item for item in items if not isinstance(item, Skipped)):
            fullname = mention.native_id
            if created < self.floor:
                self.reached = True  # newest first: what follows is older still
            elif not (self.old and created == self.old.created and fullname in self.old.ids):
                self.newest = (self.newest or _Mark(created)).advance(created, fullname)
                if fullname not in seen:
                    seen.add(fullname)
                    mentions.append(mention)
        self.taken += len(mentions)
        return mentions, skipped


def _time_filter(age: timedelta) -> str:
    """The narrowest search window (``t``) that still covers ``age``."""
    return next((name for name, h in _TIME_FILTERS if age <= timedelta(hours=h)), "all")


# -- the collector --------------------------------------------------------------------------------


class RedditCollector:
    """Reddit search per brand (r/all or ``subreddits``), plus their new comments if asked."""

    kind: ClassVar[str] = "reddit"
    Config: ClassVar[type[PluginConfig]] = RedditConfig
    credential_help: ClassVar[str] = CREDENTIAL_HELP

    def __init__(self, config: RedditConfig, ctx: CollectorContext) -> None:
        self.config = config
        self.ctx = ctx
        self.scope = "+".join(config.subreddits) or "all"

    def streams(self) -> list[_Stream]:
        streams = []
        for brand in self.ctx.brands:
            query = to_reddit_query(brand.query)
            streams.append(_Stream("brands", brand.name, f"{self.scope} {query}", query))
        if self.config.comments and streams:
            streams.append(_Stream("comments", "", self.scope))
        return streams

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        config = self.config
        if not (config.client_id.get_secret_value() and config.client_secret.get_secret_value()):
            raise permanent_error(f"Reddit credentials are not set: {CREDENTIAL_HELP}")
        if not (streams := self.streams()):
            self.ctx.logger.warning("%s: no brands configured, nothing to search", self.kind)
            return
        marks = _load_marks(cursor, streams)
        seen: set[str] = set()  # one mention per fullname even if two brands or pages return it
        budget = RateBudget()
        with closing(self.ctx.session_factory()) as session:
            reddit = self._client(session, budget)
            for stream in streams:
                yield from self._poll(reddit, budget, stream, marks, seen)

    def _client(self, session: requests.Session, budget: RateBudget) -> praw.Reddit:
        config = self.config
        with reddit_errors(budget, "Reddit client"):
            return praw.Reddit(
                client_id=config.client_id.get_secret_value(),
                client_secret=config.client_secret.get_secret_value(),
                user_agent=config.user_agent,
                oauth_url=config.base_url,
                reddit_url=config.auth_url,
                username=None,  # read-only even if a praw.ini or praw_* variable names a user
                password=None,
                refresh_token=None,
                check_for_updates=False,
                requestor_class=RedditRequestor,
                requestor_kwargs={"session": session, "http": self.ctx.http, "budget": budget},
            )

    def _poll(
        self,
        reddit: praw.Reddit,
        budget: RateBudget,
        stream: _Stream,
        marks: dict[_Stream, _Mark],
        seen: set[str],
    ) -> Iterator[Batch]:
        """Pages newest first until the mark (or ``backfill``), the listing's end or max_pages."""
        now, old = self.ctx.now(), marks.get(stream)
        if old:
            floor = old.created - self.config.overlap.total_seconds()
        else:
            floor = (now - self.config.backfill).timestamp()
        progress = _Progress(floor, old)
        age = now - datetime.fromtimestamp(progress.floor, UTC) + (TIME_SLACK if old else ZERO)
        path, params = self._request(reddit, stream, _time_filter(age))
        where = f"r/{self.scope} " + (f"search for {stream.name!r}" if stream.query else "comments")
        after: str | None = None
        for number in range(1, self.config.max_pages + 1):
            with reddit_errors(budget, where):
                answer = reddit.request(method="GET", path=path, params=page_params(params, after))
            children, next_after = parse_listing(answer, where)
            items = [to_mention(child, self.ctx.source_name, now) for child in children]
            mentions, skipped = progress.take(items, seen)
            done = progress.reached or not next_after or next_after == after
            if not done and number == self.config.max_pages:
                self.ctx.logger.warning(
                    "%s: max_pages reached before the cursor; older items may be missed"
                    " (raise max_pages or poll more often)", where,
                )  # fmt: skip
                done = True
            if done and progress.newest is not None:
                marks[stream] = progress.newest
            yield Batch(mentions, _snapshot(marks) if done else None, skipped)
            if done:
                break
            after = next_after
        self.ctx.logger.info("%s %s: %d new", self.ctx.source_name, where, progress.taken)

    def _request(
        self, reddit: praw.Reddit, stream: _Stream, time_filter: str
    ) -> tuple[str, dict[str, str | int]]:
        """Path and parameters exactly as praw's listing methods would send them."""
        with reddit_errors(RateBudget(), f"r/{self.scope}"):
            subreddit = reddit.subreddit(self.scope)
            if stream.query is None:
                listing = subreddit.comments(limit=PAGE_SIZE)
            else:
                listing = subreddit.search(
                    stream.query, sort="new", time_filter=time_filter, limit=PAGE_SIZE
                )
        if not isinstance(listing, ListingGenerator):
            raise permanent_error(f"praw {praw.__version__}: unexpected listing type")
        return listing.url, dict(listing.params)
