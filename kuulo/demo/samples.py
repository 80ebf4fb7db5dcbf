"""Deterministic sample feeds for the offline demo (``make demo``).

``build_feeds(now, seed)`` returns every feed body keyed by the URL path the demo server
serves it under. The output depends only on ``now`` and ``seed``. Items are dated over the
14 days before ``now`` (denser in the last two), with a burst of ~25 negative posts about
Nordlight's app (crashes, double charges) about three days before ``now``.
"""

from __future__ import annotations

import html
import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from kuulo.demo import texts
from kuulo.demo.texts import AURORA, BREWHAUS, NORDLIGHT, Brand, Lang, Sentiment

BRANDS: list[dict[str, object]] = [
    {
        "name": "Nordlight",
        "query": '(Nordlight OR @nordlight OR #nordlight) -"Nordlight Road"',
        "competitors": ["Brewhaus", "Kahvila Aurora"],
    },
    {"name": "Brewhaus", "query": "Brewhaus OR @brewhaus OR #brewhaus", "competitors": []},
    {
        "name": "Kahvila Aurora",
        "query": '"Kahvila Aurora" OR "Kahvila Auroran" OR "Kahvila Aurorassa" '
        'OR "Aurora cafe" OR @kahvila_aurora OR #kahvilaaurora',
        "competitors": [],
    },
]


def _feed(
    name: str, path: str, owned: bool = False, brands: list[str] | None = None
) -> dict[str, object]:
    return {"name": name, "path": path, "owned": owned, "brands": brands}


FEEDS: list[dict[str, object]] = [
    _feed("nordlight-news", "/news/nordlight.xml"),
    _feed("nordlight-reviews", "/reviews/nordlight.atom", owned=True, brands=["Nordlight"]),
    _feed("social-mentions", "/social/mentions.xml"),
    _feed("competitor-news", "/news/competitors.xml", brands=["Brewhaus", "Kahvila Aurora"]),
    _feed("forum-threads", "/forum/threads.xml"),
    _feed("broken-truncated", "/broken/truncated.xml"),
    _feed("broken-not-a-feed", "/broken/not-a-feed.html"),
    _feed("broken-bomb", "/broken/bomb.xml"),
]
BROKEN_PATHS: frozenset[str] = frozenset(
    {"/broken/truncated.xml", "/broken/not-a-feed.html", "/broken/bomb.xml"}
)

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

_SENTIMENT_WEIGHTS = (0.38, 0.32, 0.30)
_TIMEZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=3)))


@dataclass(slots=True)
class _Item:
    """One RSS <item>; ``None`` fields are left out of the XML."""

    title: str | None
    body: str  # plain text or HTML, escaped on output
    published: datetime | None
    link: str | None = None
    guid: str | None = None
    guid_is_link: bool = False
    creator: str | None = None  # <dc:creator>
    author: str | None = None  # RSS <author>, "email (Name)"
    date_text: str | None = None  # overrides the formatted pubDate (unparsable dates)
    cdata: bool = False


@dataclass(slots=True)
class _Review:
    """One Atom <entry>."""

    id: str
    title: str
    content: str
    author: str
    updated: datetime
    published: datetime | None
    link: str
    lang: Lang


# --- time and small helpers -------------------------------------------------------------


def _as_utc(now: datetime) -> datetime:
    aware = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return aware.replace(microsecond=0)


def _when(rng: random.Random, now: datetime) -> datetime:
    """A time in the 14 days before ``now``; ~45% fall in the last two days."""
    recent = rng.random() < 0.45
    minutes = rng.uniform(5, 48 * 60) if recent else rng.uniform(48 * 60, 14 * 24 * 60)
    return (now - timedelta(minutes=minutes)).replace(microsecond=0)


def _spike_when(rng: random.Random, now: datetime) -> datetime:
    """A time in one clock hour three days before ``now``: a burst the Overview's spike table
    (and a spike alert rule) finds with the default ``[alerts] spike_min_count``."""
    start = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    return (start + timedelta(minutes=rng.uniform(0, 59))).replace(microsecond=0)


def _rfc822(when: datetime) -> str:
    """RFC 822 in GMT, +0000, +0200 or +0300, picked by the minute so copies render alike."""
    style = when.minute % 4
    if style == 0:
        return format_datetime(when, usegmt=True)
    return format_datetime(when.astimezone(_TIMEZONES[style - 1]))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(text: str, limit: int = 48) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in folded.lower()).split()
    return "-".join(words)[:limit].strip("-") or "item"


def _lang(rng: random.Random, fi_share: float) -> Lang:
    return "fi" if rng.random() < fi_share else "en"


def _sentiment(rng: random.Random, weights: tuple[float, ...] = _SENTIMENT_WEIGHTS) -> Sentiment:
    return rng.choices(texts.SENTIMENTS, weights=weights)[0]


def _headline(text: str, limit: int = 72) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _newest_first(items: list[_Item]) -> list[_Item]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(items, key=lambda item: item.published or epoch, reverse=True)


# --- social posts -----------------------------------------------------------------------


def _social_item(rng: random.Random, text: str, when: datetime) -> _Item:
    person = rng.choice(texts.PEOPLE)
    handle = "@" + _slug(person).replace("-", "_")
    link = f"https://social.example/{handle}/status/{rng.randrange(10**17, 10**18)}"
    return _Item(
        title=_headline(text),
        body=text,
        published=when,
        link=link,
        guid=link,
        guid_is_link=True,
        creator=handle,
    )


def _brand_text(rng: random.Random, brand: Brand, fi_share: float) -> str:
    """A single-brand post, sometimes from the brand's extra templates."""
    extras = texts.SOCIAL_EXTRA.get(brand.name, ())
    if extras and rng.random() < 0.3:
        lang, sentiment, template = rng.choice(extras)
    else:
        lang, sentiment = _lang(rng, fi_share), _sentiment(rng)
        template = texts.pick(rng, texts.SOCIAL, lang, sentiment)
    return texts.fill(rng, template, brand, lang=lang, sentiment=sentiment)


def _pair_text(rng: random.Random, fi_share: float) -> str:
    brand, other = rng.sample(texts.ALL_BRANDS, 2)
    lang = _lang(rng, fi_share)
    template = rng.choice(texts.SOCIAL_PAIR[lang])
    return texts.fill(rng, template, brand, lang=lang, sentiment="positive", other=other)


def _spike_text(rng: random.Random) -> str:
    lang = _lang(rng, 0.2)
    template = rng.choice(texts.SPIKE[lang])
    return texts.fill(rng, template, NORDLIGHT, lang=lang, sentiment="negative")


def _pick_brand(rng: random.Random) -> Brand:
    return rng.choices(texts.ALL_BRANDS, weights=(0.55, 0.22, 0.23))[0]


def _social_items(rng: random.Random, now: datetime) -> list[_Item]:
    """120 posts: 25 in the negative spike, 10 naming two brands, one about the street."""
    posts = [_social_item(rng, _spike_text(rng), _spike_when(rng, now)) for _ in range(25)]
    posts += [_social_item(rng, _pair_text(rng, 0.45), _when(rng, now)) for _ in range(10)]
    street = texts.fill(rng, texts.STREET_POSTS[0], BREWHAUS, lang="en", sentiment="neutral")
    posts.append(_social_item(rng, street, _when(rng, now)))
    for _ in range(84):
        text = _brand_text(rng, _pick_brand(rng), 0.45)
        posts.append(_social_item(rng, text, _when(rng, now)))
    return _newest_first(posts)


# --- news -------------------------------------------------------------------------------


def _news_title(rng: random.Random, brand: Brand, fi_share: float) -> tuple[str, Lang, Sentiment]:
    extras = texts.NEWS_EXTRA_TITLES.get(brand.name, ())
    if extras and rng.random() < 0.2:
        lang, sentiment, template = rng.choice(extras)
    else:
        lang, sentiment = _lang(rng, fi_share), _sentiment(rng, (0.35, 0.4, 0.25))
        template = texts.pick(rng, texts.NEWS_TITLES, lang, sentiment)
    return texts.fill(rng, template, brand, lang=lang, sentiment=sentiment), lang, sentiment


def _news_html(
    rng: random.Random, title: str, lead: str, link: str, outlet: str, brand: Brand
) -> str:
    parts = [f"<p>{html.escape(title)}. {html.escape(lead)}</p>"]
    if rng.random() < 0.3:
        parts.append(
            f'<p>More at <a href="https://{brand.site}/">{brand.site}</a> &amp; on social '
            f"media ({html.escape(brand.handle)}) &mdash; coffee &amp; bakery news.</p>"
        )
    parts.append(f'<p>Source: <a href="{html.escape(link)}">{html.escape(outlet)}</a></p>')
    if rng.random() < 0.12:
        parts.append(texts.SCRIPT)
    return "\n".join(parts)


def _news_item(
    rng: random.Random, now: datetime, brand: Brand, guid_prefix: str, fi_share: float
) -> _Item:
    title, lang, sentiment = _news_title(rng, brand, fi_share)
    lead = texts.fill_from(rng, texts.NEWS_LEADS, brand, lang, sentiment)
    return _news_from(rng, now, title, lead, brand, guid_prefix)


def _news_from(
    rng: random.Random, now: datetime, title: str, lead: str, brand: Brand, guid_prefix: str
) -> _Item:
    when = _when(rng, now)
    outlet, host = rng.choice(texts.OUTLETS)
    number = rng.randrange(10_000, 99_999)
    link = f"https://{host}/{when:%Y/%m}/{_slug(title)}-{number}"
    item = _Item(
        title=title, body=_news_html(rng, title, lead, link, outlet, brand), published=when
    )
    item.link = link
    item.guid, item.guid_is_link = (
        (link, True) if rng.random() < 0.5 else (f"{guid_prefix}-{number}", False)
    )
    roll = rng.random()
    if roll < 0.4:
        item.creator = rng.choice(texts.PEOPLE)
    elif roll < 0.6:
        item.author = f"newsroom@{host} ({rng.choice(texts.PEOPLE)})"
    item.cdata = rng.random() < 0.25
    return item


def _nordlight_news(rng: random.Random, now: datetime) -> list[_Item]:
    items = [_news_item(rng, now, NORDLIGHT, "nordlight-news", 0.3) for _ in range(60)]
    return _newest_first(items)


def _competitor_news(rng: random.Random, now: datetime) -> list[_Item]:
    items = [
        _news_item(rng, now, rng.choice((BREWHAUS, AURORA)), "competitor-news", 0.35)
        for _ in range(49)
    ]
    street = texts.fill(rng, texts.STREET_POSTS[1], BREWHAUS, lang="en", sentiment="neutral")
    lead = "Local residents expect heavier traffic on weekday mornings."
    items.append(_news_from(rng, now, street.rstrip("."), lead, BREWHAUS, "competitor-news"))
    return _newest_first(items)


# --- reviews ----------------------------------------------------------------------------

_RATINGS: dict[Sentiment, tuple[int, ...]] = {
    "positive": (4, 5, 5),
    "neutral": (3,),
    "negative": (1, 1, 2),
}


def _rating_text(rng: random.Random, rating: int, lang: Lang) -> tuple[str, bool]:
    """The rating as stars or "Rating: n/5"; True when it goes before the review text."""
    if rng.random() < 0.5:
        return "★" * rating + "☆" * (5 - rating), True
    label = "Rating" if lang == "en" else "Arvosana"
    return f"{label}: {rating}/5", False


def _review(rng: random.Random, now: datetime, number: int) -> _Review:
    lang, sentiment = _lang(rng, 0.4), _sentiment(rng, (0.4, 0.25, 0.35))
    title = texts.fill_from(rng, texts.REVIEW_TITLES, NORDLIGHT, lang, sentiment)
    body = texts.fill_from(rng, texts.REVIEW_BODIES, NORDLIGHT, lang, sentiment)
    rating, before = _rating_text(rng, rng.choice(_RATINGS[sentiment]), lang)
    published = _when(rng, now)
    edited = rng.random() < 0.2
    updated = (
        min(now - timedelta(minutes=1), published + timedelta(hours=rng.uniform(1, 30)))
        if edited
        else published
    )
    return _Review(
        id=f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        title=title,
        content=f"{rating} {body}" if before else f"{body} {rating}",
        author=rng.choice(texts.PEOPLE),
        updated=updated.replace(microsecond=0),
        published=published if rng.random() < 0.6 else None,
        link=f"https://{NORDLIGHT.site}/reviews/{number}",
        lang=lang,
    )


def _reviews(rng: random.Random, now: datetime) -> list[_Review]:
    reviews = [_review(rng, now, 1000 + n) for n in range(80)]
    return sorted(reviews, key=lambda review: review.updated, reverse=True)


# --- forum ------------------------------------------------------------------------------

_UNDATED = frozenset({3, 8, 14})
_NO_GUID, _NO_GUID_NO_LINK, _BAD_DATE = 5, 11, 16
_DUPLICATED = (0, 1)


def _forum_brand(title: str) -> Brand:
    return next((b for b in texts.ALL_BRANDS if b.name in title), NORDLIGHT)


def _forum_item(rng: random.Random, now: datetime, index: int, title: str) -> _Item:
    brand = _forum_brand(title)
    body = _brand_text(rng, brand, 0.4)
    link = f"https://forum.example/t/{_slug(title)}/{4000 + index}"
    item = _Item(
        title=title,
        body=body,
        published=_when(rng, now),
        link=link,
        guid=f"forum-thread-{4000 + index}",
        creator=rng.choice(texts.PEOPLE),
    )
    if index in _UNDATED:
        item.published = None
    if index == _NO_GUID:
        item.guid = None
    if index == _NO_GUID_NO_LINK:
        item.guid = item.link = None
    if index == _BAD_DATE:
        item.date_text = "yesterday, around lunchtime"
    return item


def _forum_items(rng: random.Random, now: datetime) -> list[_Item]:
    """18 threads plus two exact duplicates, with missing dates, guids and links."""
    items = [_forum_item(rng, now, n, title) for n, title in enumerate(texts.FORUM_TITLES)]
    items.insert(9, items[_DUPLICATED[0]])
    items.append(items[_DUPLICATED[1]])
    return items


# --- rendering --------------------------------------------------------------------------


def _element(tag: str, text: str | None, attrs: str = "") -> str:
    return "" if text is None else f"<{tag}{attrs}>{escape(text)}</{tag}>"


def _rss_item(item: _Item) -> str:
    if item.cdata and "]]>" not in item.body:
        description = f"<description><![CDATA[{item.body}]]></description>"
    else:
        description = _element("description", item.body)
    date = item.date_text or (_rfc822(item.published) if item.published else None)
    permalink = f" isPermaLink={quoteattr('true' if item.guid_is_link else 'false')}"
    parts = [
        _element("title", item.title),
        _element("link", item.link),
        _element("guid", item.guid, permalink),
        _element("pubDate", date),
        _element("dc:creator", item.creator),
        _element("author", item.author),
        description,
    ]
    return "    <item>\n" + "".join(f"      {p}\n" for p in parts if p) + "    </item>\n"


def _rss(now: datetime, path: str, items: list[_Item]) -> str:
    title, link, about = texts.CHANNELS[path]
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "  <channel>\n"
        f"    {_element('title', title)}\n"
        f"    {_element('link', link)}\n"
        f"    {_element('description', about)}\n"
        "    <language>en</language>\n"
        f"    {_element('lastBuildDate', format_datetime(now, usegmt=True))}\n"
        "    <generator>kuulo demo</generator>\n"
    )
    return head + "".join(_rss_item(item) for item in items) + "  </channel>\n</rss>\n"


_TEXT = ' type="text"'


def _atom_entry(review: _Review) -> str:
    lines = [
        f"  <entry xml:lang={quoteattr(review.lang)}>",
        f"    {_element('id', review.id)}",
        f"    {_element('title', review.title, _TEXT)}",
        f'    <link rel="alternate" href={quoteattr(review.link)}/>',
        f"    {_element('updated', _iso(review.updated))}",
    ]
    if review.published:
        lines.append(f"    {_element('published', _iso(review.published))}")
    lines += [
        f"    <author>{_element('name', review.author)}</author>",
        f"    {_element('content', review.content, _TEXT)}",
        "  </entry>",
    ]
    return "\n".join(lines) + "\n"


def _atom(now: datetime, reviews: list[_Review]) -> str:
    updated = max((r.updated for r in reviews), default=now)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        "  <title>Nordlight customer reviews</title>\n"
        "  <subtitle>What guests say about Nordlight cafés &amp; bakeries</subtitle>\n"
        "  <id>tag:nordlight.example,2020:reviews</id>\n"
        f"  <updated>{_iso(updated)}</updated>\n"
        '  <link rel="alternate" href="https://nordlight.example/reviews"/>\n'
        '  <link rel="self" href="/reviews/nordlight.atom"/>\n'
        "  <author><name>Nordlight</name></author>\n"
        "  <generator>kuulo demo</generator>\n"
    )
    return head + "".join(_atom_entry(r) for r in reviews) + "</feed>\n"


# --- broken feeds -----------------------------------------------------------------------


def _truncated(rng: random.Random, now: datetime) -> str:
    items = [_social_item(rng, _brand_text(rng, NORDLIGHT, 0.3), _when(rng, now)) for _ in range(5)]
    full = _rss(now, "/broken/truncated.xml", items)
    cut = full.index("<description>", full.index("<item>", len(full) // 2)) + len("<description>")
    return full[: cut + 12]


# --- public API -------------------------------------------------------------------------


def build_feeds(now: datetime, seed: int = 7) -> dict[str, tuple[bytes, str]]:
    """URL path -> (body bytes, content type)."""
    now = _as_utc(now)
    rng = random.Random(seed)  # noqa: S311 - sample data, not cryptography
    social, news = _social_items(rng, now), _nordlight_news(rng, now)
    competitors, reviews = _competitor_news(rng, now), _reviews(rng, now)
    forum = _forum_items(rng, now)
    documents = {
        "/news/nordlight.xml": (_rss(now, "/news/nordlight.xml", news), RSS_TYPE),
        "/reviews/nordlight.atom": (_atom(now, reviews), ATOM_TYPE),
        "/social/mentions.xml": (_rss(now, "/social/mentions.xml", social), RSS_TYPE),
        "/news/competitors.xml": (_rss(now, "/news/competitors.xml", competitors), RSS_TYPE),
        "/forum/threads.xml": (_rss(now, "/forum/threads.xml", forum), RSS_TYPE),
        "/broken/truncated.xml": (_truncated(rng, now), RSS_TYPE),
        "/broken/not-a-feed.html": (texts.NOT_A_FEED, HTML_TYPE),
        "/broken/bomb.xml": (texts.bomb(), RSS_TYPE),
    }
    return {path: (body.encode("utf-8"), kind) for path, (body, kind) in documents.items()}
