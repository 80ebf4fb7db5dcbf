"""RSS/Atom feeds and Google News search feeds.

Both collectors share one pipeline: :func:`read_feed` fetches with :mod:`kuulo.http` (never
feedparser's own fetcher, which has no timeout or size cap), refuses DTDs before any XML parser
runs, parses the bytes with feedparser, refuses anything that is not a well-formed feed, and maps
entries to :class:`~kuulo.model.Mention`. Entries that cannot be identified become
:class:`~kuulo.model.Skipped` so one bad item never costs the whole feed.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

import feedparser
import requests
from feedparser.encodings import convert_to_utf8
from pydantic import field_validator

from kuulo.errors import FeedParseError
from kuulo.http import Response, fetch, safe_url
from kuulo.model import Batch, Cursor, Mention, Skipped
from kuulo.protocols import CollectorContext, PluginConfig

MAX_FUTURE = timedelta(days=1)
_HTML_DOCTYPE = re.compile(r"<!doctype\s+html\b[^\[>]*>", re.IGNORECASE)  # no internal subset
_DECLARATION = re.compile(r"<!(doctype|entity)", re.IGNORECASE)
_ELEMENT_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")
_SAX_LOCATION = re.compile(r":(\d+):\d+: (.*)$")
_ACCEPTED_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_SIGNATURES = (  # XML 1.0 appendix F: how a document announces a non-ASCII-compatible encoding
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {safe_url(value)!r}")
    return value


def _language(value: object) -> str | None:
    """ISO 639-1 code from a language tag ("en-US" -> "en"); None for "fil", "english", ""."""
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0] if isinstance(value, str) else ""
    return (
        primary.lower() if len(primary) == 2 and primary.isascii() and primary.isalpha() else None
    )


class RssConfig(PluginConfig):
    url: str
    language: str | None = None  # every item is in this language (default: detect per item)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        if value is not None and _language(value) is None:
            raise ValueError(f"must be a language tag like 'en' or 'fi-FI', got {value!r}")
        return _language(value)


class GoogleNewsConfig(PluginConfig):
    base_url: str = "https://news.google.com"
    hl: str = "en-US"
    gl: str = "US"
    ceid: str = "US:en"
    when: str | None = None  # appended to the query as "when:1d"; Google accepts 1h, 7d, ...

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("when")
    @classmethod
    def _check_when(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[1-9]\d*[hdmy]", value):
            raise ValueError(f"must look like 1h, 1d or 7d, got {value!r}")
        return value


@dataclass(frozen=True)
class FeedSource:
    """What differs between feeds when mapping entries."""

    kind: str
    source_name: str
    language: str | None = None  # configured override
    publisher_as_author: bool = False  # Google News: <source> names the publisher


@dataclass(frozen=True)
class FeedResult:
    mentions: list[Mention] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)  # {"etag", "modified"}
    not_modified: bool = False


def read_feed(
    session: requests.Session,
    url: str,
    validators: Mapping[str, Any],
    source: FeedSource,
    ctx: CollectorContext,
) -> FeedResult:
    """Conditional GET of one feed, then check, parse and map it."""
    headers = {}
    if isinstance(validators.get("etag"), str):
        headers["If-None-Match"] = validators["etag"]
    if isinstance(validators.get("modified"), str):
        headers["If-Modified-Since"] = validators["modified"]
    response = fetch(session, url, ctx.http, headers=headers)
    if response.status == 304:
        return FeedResult(not_modified=True)
    parsed = parse_feed(response)
    if parsed.get("bozo"):  # parse_feed let it through: an encoding or content-type slip only
        kind = type(parsed.get("bozo_exception")).__name__
        ctx.logger.warning("%s: feed accepted despite %s", safe_url(response.url), kind)
    mentions, skipped = map_entries(parsed, source, ctx.now())
    fresh = {
        "etag": response.headers.get("ETag"),
        "modified": response.headers.get("Last-Modified"),
    }
    return FeedResult(mentions, skipped, {k: v for k, v in fresh.items() if v})


def parse_feed(response: Response) -> Any:
    """feedparser's result for a body that passed every check; :class:`FeedParseError` else."""
    where = safe_url(response.url)
    if not response.body.strip():
        raise FeedParseError(f"{where} returned an empty body, not a feed")
    headers = {
        "content-type": response.headers.get("Content-Type") or "application/xml",
        "content-location": response.url,
    }
    sniffed = _sniff_decode(response.body)
    check_prologue(sniffed, where)
    # Second look at exactly what feedparser's XML parser will get, in case the body declared
    # an encoding (UTF-7, EBCDIC variants) that hides markup from a byte-level scan.
    utf8: bytes = convert_to_utf8(dict(headers), response.body, {})
    check_prologue(utf8.decode("utf-8", "replace"), where)
    try:
        # No sanitising or link rewriting: kuulo stores the HTML as received, derives plain
        # text from it (scripts dropped) and never renders feed HTML. Both cost more than
        # the rest of ingest together (see `make bench`).
        parsed = feedparser.parse(
            io.BytesIO(response.body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser bugs must not escape as non-kuulo errors
        raise FeedParseError(f"{where}: feedparser failed ({type(exc).__name__})") from exc
    if not parsed.get("version") and not parsed.get("entries"):
        raise FeedParseError(f"{where} is not a feed (no RSS or Atom root element)")
    # feedparser prepends an XML declaration line when the body has none: undo that offset
    shift = 0 if sniffed.startswith("<?xml") else 1
    _check_bozo(parsed.get("bozo_exception") if parsed.get("bozo") else None, shift, where)
    return parsed


def _sniff_decode(body: bytes) -> str:
    """The body as text in its self-announced encoding (ASCII-compatible unless signed)."""
    codec = next((name for sig, name in _SIGNATURES if body.startswith(sig)), "latin-1")
    return body.removeprefix(codecs.BOM_UTF8).decode(codec, "replace").lstrip("\ufeff")


def check_prologue(text: str, where: str) -> None:
    """Refuse markup declarations before the root element, and recognise HTML pages.

    Feeds never need a DTD, and a DTD is how billion-laughs and external-entity attacks get in,
    so any ``<!DOCTYPE``/``<!ENTITY`` in the prologue is refused before a parser sees it.
    Comments and processing instructions are skipped so they cannot hide a declaration.
    """
    pos = 0
    while (start := text.find("<", pos)) >= 0:
        if text.startswith(("<!--", "<?"), start):
            closer = "?>" if text[start + 1] == "?" else "-->"
            end = text.find(closer, start + 2)
            if end < 0:  # unterminated: be conservative about the rest
                if _DECLARATION.search(text, start):
                    raise _dtd_refused(where)
                return
            pos = end + len(closer)
        elif _HTML_DOCTYPE.match(text, start):
            raise FeedParseError(f"{where} is not a feed (looks like HTML)")
        elif text.startswith("<!", start):
            raise _dtd_refused(where)
        else:
            name = _ELEMENT_NAME.match(text, start)
            if name and name.group(1).lower() == "html":
                raise FeedParseError(f"{where} is not a feed (looks like HTML)")
            return


def _dtd_refused(where: str) -> FeedParseError:
    return FeedParseError(
        f"{where} declares a DOCTYPE/ENTITY; refused (XML bomb protection)", permanent=True
    )


def _check_bozo(error: BaseException | None, shift: int, where: str) -> None:
    """Refuse a feed the strict XML parser rejected.

    feedparser falls back to a lenient parser and still returns entries for a truncated or
    broken document; storing those would silently lose items, so any XML syntax error fails
    the fetch. Encoding/content-type mismatches are harmless and accepted.
    """
    if error is None or isinstance(error, _ACCEPTED_BOZO):
        return
    if isinstance(error, feedparser.CharacterEncodingUnknown):
        raise FeedParseError(f"{where}: character encoding unknown, cannot parse strictly")
    located = _SAX_LOCATION.search(str(error))
    if located:
        line = max(1, int(located.group(1)) - shift)
        raise FeedParseError(f"{where}: malformed XML at line {line}: {located.group(2)}")
    raise FeedParseError(f"{where}: could not parse the feed ({type(error).__name__})")


def map_entries(
    parsed: Any, source: FeedSource, now: datetime
) -> tuple[list[Mention], list[Skipped]]:
    """Mentions for the feed's entries; duplicates and unidentifiable entries are skipped."""
    # Plain dict copies: FeedParserDict aliases keys (a missing "updated" silently returns
    # "published", with a DeprecationWarning), which would blur which date the feed gave.
    feed: Mapping[str, Any] = dict(parsed.get("feed", {}))
    # Only the operator's `language` is trusted: a channel's <language> often describes the
    # site, not each item (mixed English/Finnish feeds), so otherwise the pipeline detects it.
    language = source.language
    feed_link = _safe_link(feed.get("link"))
    mentions: list[Mention] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for entry in map(dict, parsed.get("entries", [])):
        native_id = _native_id(entry)
        if native_id is None:
            skipped.append(Skipped("entry has no guid, link, title or date to identify it"))
        elif native_id in seen:
            skipped.append(Skipped("duplicate id within the feed; kept the first", native_id))
        else:
            seen.add(native_id)
            try:
                mentions.append(_mention(entry, native_id, source, language, feed_link, now))
            except (AttributeError, TypeError, ValueError, IndexError) as exc:
                skipped.append(Skipped(f"could not map entry ({type(exc).__name__})", native_id))
    return mentions, skipped


def _native_id(entry: Mapping[str, Any]) -> str | None:
    """guid, else link, else a hash of title and date that is stable across polls."""
    for key in ("id", "link"):
        if value := _text(entry.get(key)):
            return value
    title = _text(entry.get("title")) or ""
    date = _text(entry.get("published")) or _text(entry.get("updated")) or ""
    if not (title or date):
        return None
    return "sha256:" + hashlib.sha256(f"{title}\0{date}".encode()).hexdigest()[:32]


def _mention(
    entry: Mapping[str, Any],
    native_id: str,
    source: FeedSource,
    language: str | None,
    feed_link: str | None,
    now: datetime,
) -> Mention:
    title = _text(entry.get("title"))
    publisher = _text(_sub(entry, "source", "title"))
    if source.publisher_as_author:
        author = publisher
        if title and publisher and title.endswith(f" - {publisher}"):
            title = title.removesuffix(f" - {publisher}")  # keep the publisher out of matching
    else:
        author = _text(_sub(entry, "author_detail", "name")) or _text(entry.get("author"))
    content = entry.get("content") or []
    text = content[0].get("value") if content else entry.get("summary")
    return Mention(
        source=source.kind,
        source_name=source.source_name,
        native_id=native_id,
        url=_safe_link(entry.get("link")) or feed_link or "",
        text=text if isinstance(text, str) else "",
        title=title,
        published_at=_published(entry, now),
        author_name=author,
        language=language,
        raw=_raw(entry),
    )


def _published(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    """UTC publish date; a date more than a day ahead is a publisher error, not news."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return None if when > now + MAX_FUTURE else when


def _raw(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A small JSON-safe record of the entry for debugging, not the feedparser object."""
    raw: dict[str, Any] = {
        key: value
        for key in ("id", "link", "title", "published", "updated", "author")
        if (value := _text(entry.get(key))) is not None
    }
    if terms := [t for tag in entry.get("tags") or [] if (t := _text(tag.get("term")))]:
        raw["tags"] = terms
    if isinstance(entry.get("source"), Mapping):
        raw["source"] = {k: v for k in ("href", "title") if (v := _text(_sub(entry, "source", k)))}
    return raw


def _sub(entry: Mapping[str, Any], key: str, sub: str) -> object:
    """``entry[key][sub]`` when ``entry[key]`` is a mapping (feeds put odd things anywhere)."""
    value = entry.get(key)
    return value.get(sub) if isinstance(value, Mapping) else None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _safe_link(value: object) -> str | None:
    """Only http(s) links become URLs (a guid-as-link or javascript: must not be clickable)."""
    link = _text(value)
    return link if link and urlsplit(link).scheme in ("http", "https") else None


def _log(ctx: CollectorContext, label: str, result: FeedResult) -> None:
    ctx.logger.info(
        "%s %s: %s, %d mentions, %d skipped",
        ctx.source_name,
        label,
        "not modified" if result.not_modified else "fetched",
        len(result.mentions),
        len(result.skipped),
    )


class RssCollector:
    """One RSS/Atom feed, one Batch per poll, conditional GET via ETag/Last-Modified."""

    kind: ClassVar[str] = "rss"
    Config: ClassVar[type[PluginConfig]] = RssConfig

    def __init__(self, config: RssConfig, ctx: CollectorContext) -> None:
        self.config = config
        self.ctx = ctx
        self.source = FeedSource(self.kind, ctx.source_name, config.language)

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        with closing(self.ctx.session_factory()) as session:
            result = read_feed(session, self.config.url, cursor or {}, self.source, self.ctx)
        _log(self.ctx, safe_url(self.config.url), result)
        if result.not_modified:
            yield Batch(mentions=[], cursor=None, not_modified=True)
        else:
            yield Batch(result.mentions, dict(result.validators), result.skipped)


class GoogleNewsCollector:
    """A Google News search feed per brand; cursor ``{"brands": {name: {"etag", "modified"}}}``."""

    kind: ClassVar[str] = "google_news"
    Config: ClassVar[type[PluginConfig]] = GoogleNewsConfig

    def __init__(self, config: GoogleNewsConfig, ctx: CollectorContext) -> None:
        self.config = config
        self.ctx = ctx
        self.source = FeedSource(self.kind, ctx.source_name, publisher_as_author=True)

    def search_url(self, query: str) -> str:
        """The RSS search URL; hl, gl and ceid must agree or Google mixes editions."""
        q = f"{query} when:{self.config.when}" if self.config.when else query
        params = {"q": q, "hl": self.config.hl, "gl": self.config.gl, "ceid": self.config.ceid}
        return f"{self.config.base_url.rstrip('/')}/rss/search?{urlencode(params, quote_via=quote)}"

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        """One Batch per brand, each carrying the full cursor so far.

        A crash after brand 2 must not forget brand 1's validators, and a cursor entry for a
        brand that left the configuration is dropped.
        """
        old = (cursor or {}).get("brands")
        old = old if isinstance(old, dict) else {}
        merged = {
            b.name: dict(old[b.name]) for b in self.ctx.brands if isinstance(old.get(b.name), dict)
        }
        if not self.ctx.brands:
            self.ctx.logger.warning("%s: no brands configured, nothing to search", self.kind)
        with closing(self.ctx.session_factory()) as session:
            for brand in self.ctx.brands:
                url = self.search_url(brand.query.to_google_news())
                result = read_feed(session, url, merged.get(brand.name, {}), self.source, self.ctx)
                _log(self.ctx, f"brand {brand.name!r}", result)
                if result.not_modified:
                    yield Batch(mentions=[], cursor=None, not_modified=True)
                    continue
                merged[brand.name] = dict(result.validators)
                snapshot = {"brands": {name: dict(v) for name, v in merged.items()}}
                yield Batch(result.mentions, snapshot, result.skipped)
