"""The demo's sample feeds and the loopback server that serves them."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from kuulo.demo.samples import BRANDS, BROKEN_PATHS, FEEDS, build_feeds
from kuulo.demo.server import FeedServer

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
FEEDS_NOW = build_feeds(NOW)
GOOD_PATHS = sorted(set(FEEDS_NOW) - BROKEN_PATHS)
FINNISH = re.compile(
    r"\b(ja|oli|ei|todella|kiitos|onko|tänään|ihana|minuuttia|kahvia|kumpi|vai|paras)\b"
)


def _parse(path: str, feeds: dict[str, tuple[bytes, str]] = FEEDS_NOW) -> Any:
    return feedparser.parse(feeds[path][0])


def _entries() -> list[Any]:
    return [entry for path in GOOD_PATHS for entry in _parse(path).entries]


def _text(entry: Any) -> str:
    return f"{entry.get('title', '')}\n{entry.get('summary', '')}"


def test_build_feeds_is_deterministic_for_a_seed() -> None:
    assert build_feeds(NOW, seed=7) == FEEDS_NOW
    assert build_feeds(NOW, seed=8) != FEEDS_NOW
    assert build_feeds(NOW + timedelta(hours=1)) != FEEDS_NOW


def test_a_naive_now_is_taken_as_utc() -> None:
    assert build_feeds(NOW.replace(tzinfo=None)) == FEEDS_NOW


def test_feeds_and_build_feeds_name_the_same_paths() -> None:
    assert {str(feed["path"]) for feed in FEEDS} == set(FEEDS_NOW)
    assert len({feed["name"] for feed in FEEDS}) == len(FEEDS)
    assert [feed["name"] for feed in FEEDS if feed["owned"]] == ["nordlight-reviews"]
    assert {brand["name"] for brand in BRANDS} == {"Nordlight", "Brewhaus", "Kahvila Aurora"}


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_good_feeds_parse_cleanly(path: str) -> None:
    parsed = _parse(path)
    body, content_type = FEEDS_NOW[path]
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version
    assert parsed.entries
    assert content_type.endswith("charset=utf-8")


def test_item_counts() -> None:
    counts = {path: len(_parse(path).entries) for path in GOOD_PATHS}
    assert counts == {
        "/forum/threads.xml": 20,
        "/news/competitors.xml": 50,
        "/news/nordlight.xml": 60,
        "/reviews/nordlight.atom": 80,
        "/social/mentions.xml": 120,
    }
    assert 250 <= sum(counts.values()) <= 400


def test_dates_are_in_the_14_days_before_now() -> None:
    # dict.get: feedparser's own get() maps updated_parsed to published_parsed, with a warning
    dated = [dict.get(e, "published_parsed") or dict.get(e, "updated_parsed") for e in _entries()]
    times = [datetime(*parsed[:6], tzinfo=UTC) for parsed in dated if parsed]
    assert all(NOW - timedelta(days=14) <= t < NOW for t in times)
    last_two_days = sum(t >= NOW - timedelta(days=2) for t in times)
    assert last_two_days > len(times) / 3


def test_negative_spike_three_days_ago() -> None:
    start, end = NOW - timedelta(days=3, hours=2), NOW - timedelta(days=2, hours=22)
    spike = [
        e
        for e in _parse("/social/mentions.xml").entries
        if start <= datetime(*e.published_parsed[:6], tzinfo=UTC) <= end
    ]
    about_app = [
        e for e in spike if re.search(r"twice|kahdesti|kahteen|kaksi maksua|crash", e.summary)
    ]
    assert len(about_app) >= 25


def test_forum_feed_is_messy_but_well_formed() -> None:
    entries = _parse("/forum/threads.xml").entries
    undated = [e for e in entries if not e.get("published_parsed")]
    assert len(undated) == 4  # three without pubDate, one with an unparsable date
    assert sum("published" in e for e in undated) == 1
    assert sum("id" not in e and "link" in e for e in entries) == 1
    assert sum("id" not in e and "link" not in e for e in entries) == 1
    ids = [e.id for e in entries if "id" in e]
    assert len(ids) - len(set(ids)) == 2


def test_broken_feeds() -> None:
    assert _parse("/broken/truncated.xml").bozo == 1
    assert _parse("/broken/not-a-feed.html").version == ""
    bomb = FEEDS_NOW["/broken/bomb.xml"][0]
    assert b"<!DOCTYPE" in bomb
    assert bomb.count(b"<!ENTITY") == 4
    assert len(bomb) < 1024


def test_english_and_finnish_texts() -> None:
    texts = [_text(entry).lower() for entry in _entries()]
    finnish = sum(bool(FINNISH.search(text)) for text in texts)
    english = sum(bool(re.search(r"\b(the|and|at)\b", text)) for text in texts)
    assert finnish >= 80
    assert english >= 150


def test_sentiment_and_variety() -> None:
    texts = [_text(entry) for entry in _entries()]
    for word in ("terrible", "awful", "rude", "worst", "disappointed", "friendly"):
        assert any(word in text.lower() for text in texts), word
    for finnish in ("surkea", "töykeä", "ihana", "Aurorassa", "Kahvila Auroran"):
        assert any(finnish in text for text in texts), finnish
    summaries = [entry.get("summary", "") for entry in _parse("/social/mentions.xml").entries]
    assert len(set(summaries)) > 100
    assert any("https://" in s for s in summaries)
    assert any("☕" in s or "😡" in s or "👍" in s for s in summaries)
    assert any("Nordlight Road" in text for text in texts)


def test_news_html_is_escaped_and_sanitised_by_feedparser() -> None:
    body = FEEDS_NOW["/news/nordlight.xml"][0]
    assert b"&lt;p&gt;" in body or b"<![CDATA[<p>" in body
    assert b"&lt;script&gt;" in body or b"<script>" in body
    summaries = [entry.summary for entry in _parse("/news/nordlight.xml").entries]
    assert any("<a href=" in s for s in summaries)
    assert not any("<script" in s for s in summaries)


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_every_good_item_matches_a_brand_query(seed: int) -> None:
    matching = pytest.importorskip("kuulo.matching")
    queries = [matching.BrandQuery(str(brand["query"])) for brand in BRANDS]
    feeds = build_feeds(NOW, seed=seed)
    for path in sorted(set(feeds) - BROKEN_PATHS):
        for entry in _parse(path, feeds).entries:
            assert any(q.matches(_text(entry)) for q in queries), _text(entry)


def test_nordlight_road_is_not_a_nordlight_mention() -> None:
    matching = pytest.importorskip("kuulo.matching")
    nordlight = matching.BrandQuery(str(BRANDS[0]["query"]))
    roads = [_text(e) for e in _entries() if "Nordlight Road" in _text(e)]
    assert len(roads) == 2
    assert not any(nordlight.matches(text) for text in roads)


# --- the server ---------------------------------------------------------------------------


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_server_serves_feeds_over_http() -> None:
    with FeedServer(FEEDS_NOW) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = _get(server.url + "/reviews/nordlight.atom")
        assert status == 200
        assert body == FEEDS_NOW["/reviews/nordlight.atom"][0]
        assert headers["Content-Type"] == FEEDS_NOW["/reviews/nordlight.atom"][1]
        assert headers["ETag"].startswith('"')
        assert "Last-Modified" in headers
        assert feedparser.parse(body).version == "atom10"


def test_server_answers_conditional_requests_with_304() -> None:
    with FeedServer(FEEDS_NOW) as server:
        url = server.url + "/social/mentions.xml?since=1"
        _, headers, _ = _get(url)
        status, again, body = _get(url, **{"If-None-Match": headers["ETag"]})
        assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
        assert _get(url, **{"If-None-Match": '"other"'})[0] == 200
        assert _get(url, **{"If-Modified-Since": headers["Last-Modified"]})[0] == 304


def test_server_answers_unknown_paths_with_404() -> None:
    with FeedServer(FEEDS_NOW) as server:
        assert _get(server.url + "/nope.xml")[0] == 404


def test_server_stops_and_frees_its_port() -> None:
    server = FeedServer({"/a": (b"a", "text/plain")}).start()
    url = server.url
    assert _get(url + "/a")[2] == b"a"
    server.stop()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/a", timeout=2)
    with pytest.raises(RuntimeError):
        server.start()
