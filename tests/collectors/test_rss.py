"""RSS, Atom and Google News collectors against a real loopback server and fixture feeds."""

from __future__ import annotations

import codecs
import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from pydantic import ValidationError
from pytest_httpserver import HTTPServer

from collectors.rss import GoogleNewsCollector, GoogleNewsConfig, RssCollector, RssConfig
from kuulo.errors import FeedParseError, FetchError, RateLimited
from kuulo.http import make_session
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention, Skipped
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def context(
    http: HttpSettings | None = None, brands: Sequence[Brand] = (), name: str = "widget-news"
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, read_timeout=2, max_bytes=1_000_000)
    return CollectorContext(
        source_name=name,
        brands=brands,
        http=settings,
        session_factory=lambda: make_session(settings),
        now=lambda: NOW,
        logger=logging.getLogger("test"),
    )


def rss(url: str, http: HttpSettings | None = None, language: str | None = None) -> RssCollector:
    return RssCollector(RssConfig(url=url, language=language), context(http))


def run(collector: RssCollector | GoogleNewsCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(collector.collect(cursor))


def serve(httpserver: HTTPServer, body: bytes, content_type: str = RSS, **headers: str) -> str:
    httpserver.expect_request("/feed").respond_with_data(
        body, content_type=content_type, headers=headers
    )
    return httpserver.url_for("/feed")


# --- mapping -------------------------------------------------------------------------------


def test_rss_items_become_mentions(httpserver: HTTPServer) -> None:
    [batch] = run(rss(serve(httpserver, fixture("rss_basic.xml"))))
    assert batch.skipped == []
    assert batch.not_modified is False
    assert list(batch.mentions) == [
        Mention(
            source="rss",
            source_name="widget-news",
            native_id="widgets-2026-1187",
            url="https://widgets.example.com/2026/11/acme-rocket-skates-2",
            text="<p>Acme&#8217;s new skates are <b>fast</b>.</p>",
            title="Acme launches the Rocket Skates 2",
            published_at=datetime(2026, 11, 17, 8, 15, tzinfo=UTC),
            author_name="Jane Roe",
            language=None,  # not taken from <language>: detected per item
        ),
        Mention(
            source="rss",
            source_name="widget-news",
            native_id="https://widgets.example.com/2026/11/acme-anvil-review",
            url="https://widgets.example.com/2026/11/acme-anvil-review",
            text="<p>We dropped one. <em>It hurt.</em></p>",
            title="Review: Acme anvils still heavy",
            published_at=datetime(2026, 11, 16, 22, 0, tzinfo=UTC),  # -0500 -> UTC
            author_name="Sam Poe",
            language=None,
        ),
    ]
    assert dict(batch.mentions[0].raw) == {
        "id": "widgets-2026-1187",
        "link": "https://widgets.example.com/2026/11/acme-rocket-skates-2",
        "title": "Acme launches the Rocket Skates 2",
        "published": "Tue, 17 Nov 2026 08:15:00 +0000",  # no "updated": the item has none
        "author": "Jane Roe",
        "tags": ["Acme", "Launches"],
    }


def test_atom_with_only_updated(httpserver: HTTPServer) -> None:
    url = serve(httpserver, fixture("atom_updated.xml"), "application/atom+xml")
    [batch] = run(rss(url))
    assert list(batch.mentions) == [
        Mention(
            source="rss",
            source_name="widget-news",
            native_id="tag:blog.example.org,2026:post-42",
            url=httpserver.url_for("/posts/avoid-acme"),  # relative link resolved on the feed URL
            text="<p>Every Acme product has <strong>failed</strong> me.</p>",
            title="Why I avoid <i>Acme</i> products",
            published_at=datetime(2026, 11, 16, 19, 45, 30, tzinfo=UTC),
            author_name="Wile E. Coyote",  # the name, not "name (email)"
            language=None,  # xml:lang="en-GB" describes the feed, not the item
        ),
        Mention(
            source="rss",
            source_name="widget-news",
            native_id="tag:blog.example.org,2026:post-41",
            url="https://blog.example.org/posts/meep",
            text="Short and sweet.",
            title="Meep meep",
            published_at=datetime(2026, 11, 15, 8, 0, tzinfo=UTC),
            author_name=None,
            language=None,
        ),
    ]


def test_configured_language_overrides_the_feed(httpserver: HTTPServer) -> None:
    [batch] = run(rss(serve(httpserver, fixture("rss_basic.xml")), language="fi-FI"))
    assert {m.language for m in batch.mentions} == {"fi"}


def test_id_fallbacks_duplicates_and_bad_dates(httpserver: HTTPServer) -> None:
    url = serve(httpserver, fixture("rss_fallbacks.xml"), "text/xml")
    [batch] = run(rss(url))
    digest = hashlib.sha256(b"No guid, no link\0Sun, 15 Nov 2026 14:00:00 GMT").hexdigest()
    ids = [m.native_id for m in batch.mentions]
    assert ids == [
        "item-1",
        "https://fallbacks.example.net/no-guid",
        "sha256:" + digest[:32],
        "item-future",
    ]
    by_id = {m.native_id: m for m in batch.mentions}
    assert by_id["item-1"].text == "first"  # the first of the duplicates is kept
    assert by_id["item-1"].url == "https://fallbacks.example.net/"  # no link: the feed's
    future = by_id["item-future"]
    assert future.published_at is None  # 2031 is more than a day ahead of NOW
    assert future.url == "https://fallbacks.example.net/"  # javascript: is never a URL
    assert list(batch.skipped) == [
        Skipped("duplicate id within the feed; kept the first", "item-1"),
        Skipped("entry has no guid, link, title or date to identify it"),
    ]


def test_hash_ids_are_stable_across_runs(httpserver: HTTPServer) -> None:
    url = serve(httpserver, fixture("rss_fallbacks.xml"), "text/xml")
    first = [m.native_id for m in run(rss(url))[0].mentions]
    second = [m.native_id for m in run(rss(url))[0].mentions]
    assert first == second
    assert first[2].startswith("sha256:")


def test_an_empty_but_valid_feed_is_an_empty_batch(httpserver: HTTPServer) -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    [batch] = run(rss(serve(httpserver, body)))
    assert (list(batch.mentions), list(batch.skipped)) == ([], [])


def test_feed_with_non_xml_content_type_is_accepted(httpserver: HTTPServer) -> None:
    [batch] = run(rss(serve(httpserver, fixture("rss_basic.xml"), "text/html; charset=utf-8")))
    assert len(batch.mentions) == 2


def test_latin1_feed_declared_as_utf8_is_accepted(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><guid>g1</guid><title>Caf\u00e9 Acme</title></item></channel></rss>"
    ).encode("latin-1")
    [batch] = run(rss(serve(httpserver, body, "application/rss+xml; charset=utf-8")))
    assert [m.title for m in batch.mentions] == ["Caf\u00e9 Acme"]
    assert "feed accepted despite CharacterEncodingOverride" in caplog.text


def test_unbound_namespace_prefix_is_malformed(httpserver: HTTPServer) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        b"<guid>g1</guid><title>a</title><media:thumbnail url='x'/></item></channel></rss>"
    )
    with pytest.raises(FeedParseError, match="malformed XML at line 1: unbound prefix"):
        run(rss(serve(httpserver, body)))


# --- conditional GET -----------------------------------------------------------------------


def test_etag_and_last_modified_round_trip(httpserver: HTTPServer) -> None:
    modified = "Tue, 17 Nov 2026 09:30:00 GMT"
    httpserver.expect_ordered_request("/feed").respond_with_data(
        fixture("rss_basic.xml"),
        content_type=RSS,
        headers={"ETag": 'W/"abc123"', "Last-Modified": modified},
    )
    httpserver.expect_ordered_request(
        "/feed", headers={"If-None-Match": 'W/"abc123"', "If-Modified-Since": modified}
    ).respond_with_data(b"", status=304)
    collector = rss(httpserver.url_for("/feed"))

    [first] = run(collector)
    assert first.cursor == {"etag": 'W/"abc123"', "modified": modified}
    assert len(first.mentions) == 2

    [second] = run(collector, first.cursor)
    assert second == Batch(mentions=[], cursor=None, not_modified=True)
    first_request, second_request = (request for request, _ in httpserver.log)
    assert "If-None-Match" not in first_request.headers
    assert second_request.headers["If-None-Match"] == 'W/"abc123"'
    assert second_request.headers["If-Modified-Since"] == modified


def test_cursor_omits_absent_validators(httpserver: HTTPServer) -> None:
    [batch] = run(rss(serve(httpserver, fixture("rss_basic.xml"), ETag='"only-etag"')))
    assert batch.cursor == {"etag": '"only-etag"'}


# --- refusing bad input --------------------------------------------------------------------


@pytest.fixture
def feedparser_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser.parse saw bytes that should have been refused")

    monkeypatch.setattr(feedparser, "parse", refuse)


@pytest.mark.usefixtures("feedparser_must_not_run")
@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<!-- <rss> --><!doctype rss [<!entity x "y">]><rss version="2.0"/>',  # hidden by comment
        b'<?xml version="1.0"?><?xml-stylesheet href="a.xsl"?>\n<!ENTITY x SYSTEM "file:///etc/passwd">',
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file:///etc/passwd"><rss version="2.0"/>',
        codecs.BOM_UTF16_LE + BILLION_LAUGHS.decode().encode("utf-16-le"),
    ],
    ids=["billion-laughs", "behind-comment", "bare-entity", "external-dtd", "utf-16"],
)
def test_doctype_and_entity_are_refused_before_parsing(httpserver: HTTPServer, body: bytes) -> None:
    with pytest.raises(FeedParseError, match="DOCTYPE/ENTITY; refused") as caught:
        run(rss(serve(httpserver, body, "application/xml")))
    assert caught.value.permanent is True


def test_html_page_is_not_a_feed(httpserver: HTTPServer) -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>Blog</title></head><body><p>Hi<br></body></html>"
    with pytest.raises(FeedParseError, match=r"not a feed \(looks like HTML\)"):
        run(rss(serve(httpserver, page, "text/html; charset=utf-8")))


def test_xhtml_page_is_not_a_feed(httpserver: HTTPServer) -> None:
    page = (
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><body/></html>'
    )
    with pytest.raises(FeedParseError, match=r"not a feed \(looks like HTML\)"):
        run(rss(serve(httpserver, page, "application/xhtml+xml")))


def test_well_formed_non_feed_xml_is_not_a_feed(httpserver: HTTPServer) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        run(rss(serve(httpserver, b"<?xml version='1.0'?><config><a/></config>")))


def test_truncated_feed_is_refused_not_half_stored(httpserver: HTTPServer) -> None:
    whole = fixture("rss_basic.xml")
    cut = whole[: whole.index(b"<title>Review")]
    with pytest.raises(FeedParseError, match="malformed XML at line 20: no element found"):
        run(rss(serve(httpserver, cut)))


def test_mismatched_tag_reports_the_line(httpserver: HTTPServer) -> None:
    body = b'<rss version="2.0">\n<channel>\n<item><title>a</item>\n</channel></rss>'
    with pytest.raises(FeedParseError, match="malformed XML at line 3: mismatched tag"):
        run(rss(serve(httpserver, body)))


def test_empty_body_is_refused(httpserver: HTTPServer) -> None:
    with pytest.raises(FeedParseError, match="empty body"):
        run(rss(serve(httpserver, b"  \n")))


# --- HTTP failures surface as collector errors ---------------------------------------------


def test_404_is_permanent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data(b"not here", status=404)
    with pytest.raises(FetchError, match="HTTP 404") as caught:
        run(rss(httpserver.url_for("/gone")))
    assert caught.value.permanent is True


def test_500_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(b"oops", status=500)
    with pytest.raises(FetchError) as caught:
        run(rss(httpserver.url_for("/feed")))
    assert caught.value.permanent is False


def test_429_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        b"", status=429, headers={"Retry-After": "7"}
    )
    with pytest.raises(RateLimited) as caught:
        run(rss(httpserver.url_for("/feed")))
    assert caught.value.retry_after == 7


def test_redirected_feed_is_read_from_its_final_location(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        b"", status=301, headers={"Location": "/blog/feed.atom"}
    )
    httpserver.expect_request("/blog/feed.atom").respond_with_data(
        fixture("atom_updated.xml"), content_type="application/atom+xml"
    )
    [batch] = run(rss(httpserver.url_for("/old")))
    assert batch.mentions[0].url == httpserver.url_for("/posts/avoid-acme")


def test_oversized_feed_is_refused(httpserver: HTTPServer) -> None:
    http = HttpSettings(retries=0, max_bytes=1000)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        run(rss(serve(httpserver, fixture("rss_basic.xml")), http))


def test_config_accepts_only_http_urls() -> None:
    for bad in ("file:///etc/passwd", "ftp://example.com/feed", "example.com/feed"):
        with pytest.raises(ValidationError):
            RssConfig(url=bad)
    for bad_language in ("english", "fil", "e1", ""):
        with pytest.raises(ValidationError):
            RssConfig(url="https://example.com/feed", language=bad_language)
    assert RssConfig(url="http://example.com/feed", language="pt_BR").language == "pt"
    with pytest.raises(ValidationError):
        RssConfig(url="https://example.com/feed", colour="red")  # type: ignore[call-arg]


# --- Google News ---------------------------------------------------------------------------

ACME = Brand("Acme", BrandQuery('"Acme Corp" OR acme'))
GLOBEX = Brand("Globex", BrandQuery("globex -road"))


def google(
    httpserver: HTTPServer, brands: Sequence[Brand], when: str | None = "1d"
) -> GoogleNewsCollector:
    config = GoogleNewsConfig(base_url=httpserver.url_for("/").rstrip("/"), when=when)
    return GoogleNewsCollector(config, context(brands=brands, name="gnews"))


def test_google_news_builds_the_search_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/rss/search").respond_with_data(
        fixture("google_news.xml"), content_type="application/xml; charset=utf-8"
    )
    run(google(httpserver, [ACME]))
    [(request, _)] = httpserver.log
    query = parse_qs(request.query_string.decode(), strict_parsing=True)
    assert query == {
        "q": ['"Acme Corp" OR acme when:1d'],
        "hl": ["en-US"],
        "gl": ["US"],
        "ceid": ["US:en"],
    }
    assert "+" not in request.query_string.decode()  # spaces as %20, like Google's own links


def test_google_news_maps_publisher_and_keeps_the_google_link(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/rss/search").respond_with_data(
        fixture("google_news.xml"), content_type="application/xml; charset=utf-8"
    )
    [batch] = run(google(httpserver, [ACME], when=None))
    first = batch.mentions[0]
    assert first == Mention(
        source="google_news",
        source_name="gnews",
        native_id="CBMilAFBVV95cUxNcGFEa2t0bV9Kc3J5dFZ2eE1yVk1aOGJfUm5YWDhj",
        url="https://news.google.com/rss/articles/CBMilAFBVV95cUxNcGFEa2t0bV9Kc3J5dFZ2eE1yVk1aOGJfUm5YWDhj?oc=5",
        text=(
            '<a href="https://news.google.com/rss/articles/CBMilAFBVV95cUxNcGFEa2t0bV9Kc3J5dFZ2'
            'eE1yVk1aOGJfUm5YWDhj?oc=5" target="_blank">Acme Corp recalls 10,000 anvils after'
            ' safety complaints</a>&nbsp;&nbsp;<font color="#6f6f6f">The Desert Times</font>'
        ),
        title="Acme Corp recalls 10,000 anvils after safety complaints",
        published_at=datetime(2026, 11, 17, 9, 41, tzinfo=UTC),
        author_name="The Desert Times",
        language=None,
    )
    assert first.raw["source"] == {
        "href": "https://www.deserttimes.example",
        "title": "The Desert Times",
    }
    assert first.raw["title"].endswith(" - The Desert Times")
    assert [m.author_name for m in batch.mentions] == ["The Desert Times", "Market Wire"]
    assert httpserver.log[0][0].args["q"] == '"Acme Corp" OR acme'  # no when: configured


def test_google_news_cursor_is_per_brand_and_cumulative(httpserver: HTTPServer) -> None:
    feed = fixture("google_news.xml")
    acme_q = {"q": '"Acme Corp" OR acme when:1d', "hl": "en-US", "gl": "US", "ceid": "US:en"}
    globex_q = {**acme_q, "q": "globex -road when:1d"}
    httpserver.expect_ordered_request("/rss/search", query_string=acme_q).respond_with_data(
        feed, content_type=RSS, headers={"ETag": '"a1"'}
    )
    httpserver.expect_ordered_request("/rss/search", query_string=globex_q).respond_with_data(
        feed, content_type=RSS, headers={"ETag": '"g1"', "Last-Modified": "Tue, 17 Nov 2026"}
    )
    httpserver.expect_ordered_request(
        "/rss/search", query_string=acme_q, headers={"If-None-Match": '"a1"'}
    ).respond_with_data(b"", status=304)
    httpserver.expect_ordered_request(
        "/rss/search", query_string=globex_q, headers={"If-None-Match": '"g1"'}
    ).respond_with_data(feed, content_type=RSS, headers={"ETag": '"g2"'})
    collector = google(httpserver, [ACME, GLOBEX])

    first_acme, first_globex = run(collector, {"brands": {"Gone": {"etag": '"old"'}}})
    assert first_acme.cursor == {"brands": {"Acme": {"etag": '"a1"'}}}  # "Gone" is dropped
    assert first_globex.cursor == {
        "brands": {
            "Acme": {"etag": '"a1"'},
            "Globex": {"etag": '"g1"', "modified": "Tue, 17 Nov 2026"},
        }
    }
    assert len(first_acme.mentions) == len(first_globex.mentions) == 2

    second_acme, second_globex = run(collector, first_globex.cursor)
    assert second_acme == Batch(mentions=[], cursor=None, not_modified=True)
    assert second_globex.cursor == {
        "brands": {"Acme": {"etag": '"a1"'}, "Globex": {"etag": '"g2"'}}
    }
    httpserver.check_assertions()
    assert len(httpserver.log) == 4


def test_google_news_failure_raises_after_earlier_batches(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/rss/search").respond_with_data(
        fixture("google_news.xml"), content_type=RSS
    )
    httpserver.expect_ordered_request("/rss/search").respond_with_data(b"<html>", status=503)
    batches = google(httpserver, [ACME, GLOBEX]).collect(None)
    assert len(next(iter(batches)).mentions) == 2
    with pytest.raises(FetchError, match="HTTP 503"):
        next(iter(batches))


def test_google_news_config_validation() -> None:
    with pytest.raises(ValidationError):
        GoogleNewsConfig(when="yesterday")
    with pytest.raises(ValidationError):
        GoogleNewsConfig(base_url="gopher://news.google.com")
    assert GoogleNewsConfig(when="7d").when == "7d"
