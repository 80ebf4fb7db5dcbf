"""Hacker News stories and comments through the Algolia HN Search API.

``GET {base_url}/api/v1/search_by_date`` returns the newest items first. Algolia has no OR, so
each brand's query is split into its positive terms (one request series per term, phrases
quoted); the pipeline re-checks every mention against the full brand query, so terms only need
to find a superset.

The cursor is per brand: the newest ``created_at_i`` stored plus the objectIDs seen at exactly
that second. The next poll asks for ``created_at_i>=newest`` and drops those ids, so an item
posted in the same second as the last one stored is neither lost (as with ``>``) nor stored
twice (as with a plain ``>=``). Deep pagination stops at about 1,000 hits, so a poll that
reaches that cap continues in a new slice below the oldest second it has seen.

Algolia indexes some items minutes after their ``created_at_i``; a poll made in between would
pass them for good. So each poll after the first reaches back ``overlap`` (default 10 minutes)
before the mark: items stored already come again and the store keeps them unchanged
(upserts are idempotent), late ones are found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeGuard
from urllib.parse import quote, urlencode, urlsplit

import requests
from pydantic import Field, field_validator

from kuulo.errors import CollectorError
from kuulo.http import fetch, safe_url
from kuulo.matching import Brand
from kuulo.model import Batch, Cursor, Mention, Skipped
from kuulo.protocols import CollectorContext, PluginConfig
from kuulo.settings import Duration, DurationOrZero

ITEM_URL = "https://news.ycombinator.com/item?id={}"
MAX_FUTURE = timedelta(days=1)
ALGOLIA_HIT_CAP = 1000  # paginationLimitedTo: no page reaches past this many hits


class HackerNewsConfig(PluginConfig):
    base_url: str = "https://hn.algolia.com"
    backfill: Duration = timedelta(hours=24)  # how far back the first poll of a brand reaches
    tags: str = "(story,comment)"  # Algolia tags: comma = AND, parentheses = OR
    hits_per_page: int = Field(100, ge=1, le=1000)
    max_pages: int = Field(10, ge=1, le=100)  # requests per term and poll, slices included
    overlap: DurationOrZero = timedelta(minutes=10)  # re-read before the mark (late items)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, got {safe_url(value)!r}")
        return value.rstrip("/")


@dataclass(frozen=True)
class Mark:
    """A brand's resume point: newest second stored and the ids stored at that second."""

    since: int
    ids: frozenset[str] = frozenset()

    def as_json(self) -> dict[str, Any]:
        return {"created_at_i": self.since, "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, value: object) -> Mark | None:
        """The stored mark, or None when absent or unreadable (the brand starts afresh)."""
        if not isinstance(value, Mapping):
            return None
        since, ids = value.get("created_at_i"), value.get("ids")
        if not _is_int(since) or not isinstance(ids, list):
            return None
        return cls(since, frozenset(i for i in ids if isinstance(i, str)))


@dataclass
class Newest:
    """Folds the hits of one brand's poll into its next Mark."""

    since: int
    ids: set[str] = field(default_factory=set)

    def see(self, object_id: str, created: int) -> None:
        if created > self.since:
            self.since, self.ids = created, {object_id}
        elif created == self.since:
            self.ids.add(object_id)

    def mark(self) -> Mark:
        return Mark(self.since, frozenset(self.ids))


@dataclass(frozen=True)
class Page:
    """One parsed search response."""

    hits: list[Any]
    nb_hits: int
    nb_pages: int


@dataclass
class Hit:
    """A hit mapped to a mention (or a reason it could not be), with what the cursor needs."""

    object_id: str | None
    created: int | None
    mention: Mention | None = None
    skipped: Skipped | None = None


def parse_page(body: bytes, where: str, page: int) -> Page:
    """The search response, or a non-permanent CollectorError: a truncated or garbled body
    must fail the poll (nothing of it stored, cursor kept), never pass for an empty result."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"{where}: invalid JSON (truncated or corrupt body): {exc.msg} at byte {exc.pos}"
        ) from None
    except (ValueError, RecursionError) as exc:  # bad UTF-8, absurd nesting
        raise CollectorError(f"{where}: invalid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
        raise CollectorError(f"{where}: unexpected response: no 'hits' list")
    hits: list[Any] = data["hits"]
    nb_pages = data.get("nbPages")
    nb_hits = data.get("nbHits")
    return Page(
        hits=hits,
        nb_hits=nb_hits if _is_int(nb_hits) else len(hits),
        nb_pages=nb_pages if _is_int(nb_pages) else page + 1,
    )


def map_hit(hit: object, source_name: str, now: datetime) -> Hit:
    """A Mention for one Algolia hit; malformed hits become Skipped with a reason."""
    if not isinstance(hit, Mapping):
        return Hit(None, None, skipped=Skipped(f"hit is not an object ({type(hit).__name__})"))
    object_id, problem = _object_id(hit.get("objectID"))
    created = _int(hit.get("created_at_i"))
    if object_id is None:
        return Hit(None, created, skipped=Skipped(problem or "hit has no objectID"))
    body = hit.get("story_text") or hit.get("comment_text")
    if body is not None and not isinstance(body, str):
        reason = f"text is not a string ({type(body).__name__})"
        return Hit(object_id, created, skipped=Skipped(reason, object_id))
    title = _str(hit.get("title")) or _str(hit.get("story_title"))
    text = _clean(body) if body else title
    if not text:
        return Hit(object_id, created, skipped=Skipped("hit has no text and no title", object_id))
    author = _str(hit.get("author"))
    mention = Mention(
        source=HackerNewsCollector.kind,
        source_name=source_name,
        native_id=object_id,
        url=ITEM_URL.format(quote(object_id, safe="")),
        text=text,
        title=title,
        published_at=_published(created, hit.get("created_at"), now),
        author_name=author,
        author_handle=author,
        likes=_int(hit.get("points")),
        replies=_int(hit.get("num_comments")),
        parent_id=_id_text(hit.get("parent_id")),
        thread_id=_id_text(hit.get("story_id")),
        raw=_raw(hit),
    )
    return Hit(object_id, created, mention=mention)


def _object_id(value: object) -> tuple[str | None, str | None]:
    """objectID as exact text: ints (any size) are spelled out, floats are refused because a
    64-bit id that went through a float has already lost digits."""
    if isinstance(value, float):
        return None, f"objectID {value!r} is a float; cannot be an exact id"
    text = _id_text(value)
    if text is None and value is not None:
        return None, f"objectID is not a string or integer ({type(value).__name__})"
    return text, None


def _id_text(value: object) -> str | None:
    if _is_int(value):
        return str(value)
    return _clean(value).strip() or None if isinstance(value, str) else None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int | None:
    """Counts and times as int; digit strings are accepted, anything else is unknown (None)."""
    if _is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _clean(text: str) -> str:
    """NUL cuts text short in SQLite; lone surrogates are replaced later by ``prepare``."""
    return text.replace("\x00", "")


def _str(value: object) -> str | None:
    return _clean(value).strip() or None if isinstance(value, str) else None


def _published(created: int | None, created_at: object, now: datetime) -> datetime | None:
    """UTC time from ``created_at_i`` (else the ISO ``created_at``); far-future dates are None."""
    when: datetime | None = None
    try:
        if created is not None:
            when = datetime.fromtimestamp(created, UTC)
        elif isinstance(created_at, str):
            parsed = datetime.fromisoformat(created_at)
            when = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return None if when is None or when > now + MAX_FUTURE else when


def _raw(hit: Mapping[str, Any]) -> dict[str, Any]:
    """The fields worth keeping for debugging and replies: the story's external link above all."""
    keys = ("objectID", "created_at", "url", "story_url", "_tags", "story_id", "parent_id")
    return {k: hit[k] for k in keys if isinstance(hit.get(k), str | int | list)}


def search_term(term: str) -> str:
    """Algolia query text for one term: phrases quoted so their words stay together."""
    term = " ".join(term.replace('"', " ").split())
    return f'"{term}"' if " " in term else term


class HackerNewsCollector:
    """Per brand, per positive term: search_by_date pages newer than the brand's Mark."""

    kind: ClassVar[str] = "hackernews"
    Config: ClassVar[type[PluginConfig]] = HackerNewsConfig

    def __init__(self, config: HackerNewsConfig, ctx: CollectorContext) -> None:
        self.config = config
        self.ctx = ctx

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        """One series of Batches per brand; only the last of a brand carries the cursor, which
        holds every configured brand's Mark (a brand no longer configured is dropped)."""
        stored = (cursor or {}).get("brands")
        stored = stored if isinstance(stored, Mapping) else {}
        marks = {
            b.name: mark for b in self.ctx.brands if (mark := Mark.from_json(stored.get(b.name)))
        }
        if not self.ctx.brands:
            self.ctx.logger.warning("%s: no brands configured, nothing to search", self.kind)
        seen: set[str] = set()  # one item found by two terms or brands is yielded once
        with closing(self.ctx.session_factory()) as session:
            for brand in self.ctx.brands:
                yield from self._poll_brand(session, brand, marks, seen)

    def _poll_brand(
        self, session: requests.Session, brand: Brand, marks: dict[str, Mark], seen: set[str]
    ) -> Iterator[Batch]:
        now = self.ctx.now()
        stored = marks.get(brand.name)
        mark = stored or Mark(int((now - self.config.backfill).timestamp()))
        newest = Newest(mark.since, set(mark.ids))
        lowest = mark.since - int(self.config.overlap.total_seconds()) if stored else mark.since
        pending: Batch | None = None
        counts = [0, 0]  # mentions, skipped
        for term in brand.query.positive_terms():
            for page in self._pages(session, search_term(term), lowest):
                mentions, skipped = self._map_page(page.hits, mark, newest, seen, now)
                counts[0] += len(mentions)
                counts[1] += len(skipped)
                if pending is not None:
                    yield pending  # not the last page: the cursor must wait for the rest
                pending = Batch(mentions, None, skipped)
        marks[brand.name] = newest.mark()
        cursor = {"brands": {name: m.as_json() for name, m in marks.items()}}
        self.ctx.logger.info(
            "%s brand %r: %d mentions, %d skipped, newest created_at_i %d",
            self.ctx.source_name, brand.name, counts[0], counts[1], newest.since,
        )  # fmt: skip
        yield Batch(pending.mentions if pending else [], cursor, pending.skipped if pending else [])

    def _map_page(
        self, hits: Sequence[object], mark: Mark, newest: Newest, seen: set[str], now: datetime
    ) -> tuple[list[Mention], list[Skipped]]:
        mentions: list[Mention] = []
        skipped: list[Skipped] = []
        # a bogus far-future time must not push the cursor past every real item to come
        latest = int((now + MAX_FUTURE).timestamp())
        for raw in hits:
            hit = map_hit(raw, self.ctx.source_name, now)
            if hit.object_id is not None and hit.created is not None:
                if hit.created == mark.since and hit.object_id in mark.ids:
                    continue  # stored by the previous poll
                if hit.created <= latest:
                    newest.see(hit.object_id, hit.created)
            if hit.object_id is not None:
                if hit.object_id in seen:
                    continue  # found again by another term, page or brand
                seen.add(hit.object_id)
            if hit.skipped is not None:
                skipped.append(hit.skipped)
            elif hit.mention is not None:
                mentions.append(hit.mention)
        return mentions, skipped

    def _pages(self, session: requests.Session, query: str, since: int) -> Iterator[Page]:
        """Every page for one term, newest first, within ``max_pages`` requests.

        When Algolia's ~1,000-hit pagination cap is reached, a new slice starts at the oldest
        second seen so far (``created_at_i<=oldest``); the boundary second is fetched again and
        its repeats are dropped by the caller's ``seen`` set.
        """
        upper: int | None = None
        page = 0
        oldest: int | None = None
        full = False
        for _ in range(self.config.max_pages):
            result = self._search(session, query, since, upper, page)
            yield result
            times = [t for t in map(_hit_time, result.hits) if t is not None]
            oldest = min([*times, *([] if oldest is None else [oldest])], default=None)
            full = len(result.hits) >= self.config.hits_per_page
            if page < result.nb_pages - 1 and full:
                page += 1
            elif full and result.nb_hits > result.nb_pages * self.config.hits_per_page:
                if oldest is None or oldest == upper:
                    self._warn_cap(query, oldest, "more than a page cap of items in one second")
                    return
                self.ctx.logger.info(
                    "%s: %r reached the ~%d-hit pagination cap; slicing at created_at_i<=%d",
                    self.ctx.source_name, query, ALGOLIA_HIT_CAP, oldest,
                )  # fmt: skip
                upper, page = oldest, 0
            else:
                return
        if full:
            self._warn_cap(query, oldest, f"max_pages ({self.config.max_pages}) reached")

    def _warn_cap(self, query: str, oldest: int | None, why: str) -> None:
        self.ctx.logger.warning(
            "%s: %r: %s; items older than created_at_i %s in this poll were not collected",
            self.ctx.source_name, query, why, oldest,
        )  # fmt: skip

    def _search(
        self, session: requests.Session, query: str, since: int, upper: int | None, page: int
    ) -> Page:
        numeric = f"created_at_i>={since}" + (f",created_at_i<={upper}" if upper else "")
        params: dict[str, str | int] = {"query": query}
        if self.config.tags:
            params["tags"] = self.config.tags
        params |= {
            "numericFilters": numeric,
            "hitsPerPage": self.config.hits_per_page,
            "page": page,
        }
        url = f"{self.config.base_url}/api/v1/search_by_date?{urlencode(params)}"
        response = fetch(session, url, self.ctx.http, headers={"Accept": "application/json"})
        return parse_page(response.body, safe_url(response.url), page)


def _hit_time(hit: object) -> int | None:
    return _int(hit.get("created_at_i")) if isinstance(hit, Mapping) else None
