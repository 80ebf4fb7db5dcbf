"""Hacker News (Algolia) collector against a loopback fake of the search API.

Fixture pages in ``tests/fixtures/hackernews`` have the real response shape; ``FakeAlgolia``
answers from a list of hits and honours ``query``, ``numericFilters``, ``hitsPerPage``, ``page``
and the ~1,000-hit pagination cap, so cursor and paging logic meet a realistic server.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.hackernews import HackerNewsCollector, HackerNewsConfig, Mark, search_term
from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.http import make_session
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention
from kuulo.pipeline import Runtime, collect_source, sync_sources
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings, load_settings
from kuulo.store import MentionFilter, SqliteStore, open_store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hackernews"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW_I = int(NOW.timestamp())
DAY_AGO = NOW_I - 86400
PATH = "/api/v1/search_by_date"
ACME = Brand("Acme", BrandQuery("Acme"))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def context(
    brands: Sequence[Brand] = (ACME,), http: HttpSettings | None = None
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, read_timeout=2, backoff_factor=0)
    return CollectorContext(
        source_name="hn",
        brands=brands,
        http=settings,
        session_factory=lambda: make_session(settings),
        now=lambda: NOW,
        logger=logging.getLogger("test.hackernews"),
    )


def collector(
    server: HTTPServer, brands: Sequence[Brand] = (ACME,), **options: Any
) -> HackerNewsCollector:
    config = HackerNewsConfig(base_url=server.url_for("/").rstrip("/"), **options)
    return HackerNewsCollector(config, context(brands))


def run(c: HackerNewsCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(c.collect(cursor))


def mentions(batches: Sequence[Batch]) -> dict[str, Mention]:
    return {m.native_id: m for b in batches for m in b.mentions}


def params(server: HTTPServer) -> list[dict[str, str]]:
    return [dict(request.args) for request, _ in server.log]


def hn_cursor(since: int, *ids: str, brand: str = "Acme") -> Cursor:
    return {"brands": {brand: {"created_at_i": since, "ids": sorted(ids)}}}


def hit(object_id: str, created: int, text: str = "Acme anvils", **extra: Any) -> dict[str, Any]:
    return {
        "_tags": ["comment", f"story_{object_id}"],
        "author": "user",
        "comment_text": text,
        "created_at": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_at_i": created,
        "objectID": object_id,
        "parent_id": 1,
        "story_id": 1,
        "story_title": "A story",
        **extra,
    }


class FakeAlgolia:
    """search_by_date over ``hits``: newest first, filtered, paged, capped like Algolia."""

    def __init__(self, server: HTTPServer, cap: int = 1000) -> None:
        self.server = server
        self.hits: list[dict[str, Any]] = []
        self.cap = cap
        self.fail_page: int | None = None  # answer 500 to this page number, once

    def __call__(self, request: Request) -> Response:
        page, per_page = int(request.args["page"]), int(request.args["hitsPerPage"])
        if self.fail_page == page:
            self.fail_page = None
            return Response("upstream overloaded", status=500)
        term = request.args.get("query", "").strip('"').casefold()
        found = sorted(
            (h for h in self.hits if self._numeric(h, request.args.get("numericFilters", ""))),
            key=lambda h: -int(h["created_at_i"]),
        )
        found = [h for h in found if term in json.dumps(h).casefold()]
        nb_pages = min(math.ceil(len(found) / per_page), self.cap // per_page)
        shown = found[page * per_page : (page + 1) * per_page] if page < nb_pages else []
        body = {
            "hits": shown,
            "nbHits": len(found),
            "page": page,
            "nbPages": nb_pages,
            "hitsPerPage": per_page,
            "processingTimeMS": 1,
            "query": request.args.get("query", ""),
            "params": request.query_string.decode(),
        }
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")

    @staticmethod
    def _numeric(item: dict[str, Any], filters: str) -> bool:
        ops = {">": int.__gt__, ">=": int.__ge__, "<": int.__lt__, "<=": int.__le__}
        for name, op, value in re.findall(r"(\w+)(>=|<=|>|<)(\d+)", filters):
            if not ops[op](int(item[name]), int(value)):
                return False
        return True


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeAlgolia:
    algolia = FakeAlgolia(httpserver)
    httpserver.expect_request(PATH).respond_with_handler(algolia)
    return algolia


def serve_pages(server: HTTPServer, *pages: dict[str, Any]) -> None:
    for n, page in enumerate(pages):
        server.expect_ordered_request(PATH, query_string={**_qs(n)}).respond_with_json(page)


def _qs(page: int) -> dict[str, str]:
    return {
        "query": "Acme",
        "tags": "(story,comment)",
        "numericFilters": f"created_at_i>={DAY_AGO}",
        "hitsPerPage": "2",
        "page": str(page),
    }


# -- requests and mapping ----------------------------------------------------------------------


def test_two_pages_are_fetched_with_the_documented_parameters(httpserver: HTTPServer) -> None:
    serve_pages(httpserver, fixture("search_page0.json"), fixture("search_page1.json"))
    batches = run(collector(httpserver, hits_per_page=2))

    assert params(httpserver) == [_qs(0), _qs(1)]
    assert [b.cursor for b in batches] == [None, hn_cursor(1795604400, "45100004")]
    assert [len(b.mentions) for b in batches] == [2, 2]
    found = mentions(batches)
    assert list(found) == ["45100004", "45100003", "45100002", "45100001"]

    story = found["45100004"]
    assert story.source == "hackernews"
    assert story.source_name == "hn"
    assert story.url == "https://news.ycombinator.com/item?id=45100004"
    assert story.title == "Acme Corp launches a rocket-powered anvil"
    assert story.text == story.title  # a link post has no story_text
    assert story.published_at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert (story.author_name, story.author_handle) == ("wile_e", "wile_e")
    assert (story.likes, story.replies, story.thread_id) == (142, 3, "45100004")
    assert story.raw["url"] == "https://acme.example/blog/rocket-anvil"

    comment = found["45100003"]
    assert comment.title == "Ask HN: Anvil vendors?"  # the story's title
    assert comment.text.startswith("The Acme anvil broke on day one.<p>")  # HTML kept raw
    assert (comment.parent_id, comment.thread_id) == ("45100001", "45100001")
    assert (comment.likes, comment.replies) == (None, None)
    assert found["45100001"].text == "Looking for alternatives to Acme anvils. <i>Any tips?</i>"


def test_an_empty_result_still_saves_where_the_poll_started(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(fixture("empty.json"))
    [batch] = run(collector(httpserver))
    assert (list(batch.mentions), list(batch.skipped)) == ([], [])
    assert batch.cursor == hn_cursor(DAY_AGO)
    assert params(httpserver)[0]["hitsPerPage"] == "100"


def test_each_positive_term_is_searched_and_repeats_are_kept_once(fake: FakeAlgolia) -> None:
    fake.hits = [hit("1", NOW_I - 60, "Acme Corp ships"), hit("2", NOW_I - 30, "acme again")]
    brand = Brand("Acme", BrandQuery('("Acme Corp" OR acme OR #acmeanvil) -"acme road"'))
    batches = run(collector(fake.server, [brand]))
    assert [p["query"] for p in params(fake.server)] == ['"Acme Corp"', "acme", "acmeanvil"]
    assert sorted(mentions(batches)) == ["1", "2"]  # "1" matches two terms, yielded once
    assert batches[-1].cursor == hn_cursor(NOW_I - 30, "2")
    assert all(b.cursor is None for b in batches[:-1])


def test_search_terms_quote_phrases_only() -> None:
    assert search_term("acme") == "acme"
    assert search_term("Acme  Corp") == '"Acme Corp"'
    assert search_term('say "hi" there') == '"say hi there"'


def test_bad_hits_are_skipped_with_reasons_or_cleaned(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(fixture("odd_hits.json"))
    [batch] = run(collector(httpserver))
    found = mentions([batch])

    assert sorted(found) == ["45100102", "45100104", "45100105", "9007199254740993"]
    big = found["9007199254740993"]  # a number past 2**53, kept exact
    assert (big.parent_id, big.thread_id) == ("9007199254740995", "18446744073709551615")
    odd = found["45100102"]
    assert "\x00" not in odd.text
    assert "\x00" not in (odd.author_name or "")
    assert "\ud800" in odd.text  # prepare() turns it into U+FFFD before storing
    counts = found["45100104"]
    assert (counts.likes, counts.replies) == (12, None)
    assert counts.published_at == datetime.fromtimestamp(1795603800, UTC)
    assert found["45100105"].published_at is None  # year 2100: not a real date

    reasons = sorted(s.reason for s in batch.skipped)
    assert reasons == [
        "hit has no objectID",
        "hit has no text and no title",
        "hit is not an object (str)",
        "objectID 45100100.0 is a float; cannot be an exact id",
        "objectID is not a string or integer (bool)",
        "text is not a string (int)",
    ]
    # the far-future hit does not drag the cursor into 2100
    assert batch.cursor == hn_cursor(1795604400, "9007199254740993")


# -- the cursor ----------------------------------------------------------------------------------


def test_the_cursor_neither_loses_nor_repeats_items_in_the_same_second(fake: FakeAlgolia) -> None:
    t = NOW_I - 600
    fake.hits = [hit("10", t - 5), hit("11", t), hit("12", t)]
    first = run(collector(fake.server))
    assert sorted(mentions(first)) == ["10", "11", "12"]
    cursor = first[-1].cursor
    assert cursor == hn_cursor(t, "11", "12")

    fake.hits += [hit("13", t), hit("14", t + 1)]  # indexed after the first poll
    second = run(collector(fake.server), cursor)

    assert params(fake.server)[-1]["numericFilters"] == f"created_at_i>={t}"
    assert sorted(mentions(second)) == ["13", "14"]
    assert second[-1].cursor == hn_cursor(t + 1, "14")

    third = run(collector(fake.server), second[-1].cursor)
    assert mentions(third) == {}
    assert third[-1].cursor == hn_cursor(t + 1, "14")


def test_each_brand_keeps_its_own_mark_and_departed_brands_are_dropped(
    fake: FakeAlgolia,
) -> None:
    fake.hits = [hit("1", NOW_I - 100, "Acme"), hit("2", NOW_I - 50, "Globex")]
    globex = Brand("Globex", BrandQuery("Globex"))
    old = {
        "brands": {
            "Acme": {"created_at_i": NOW_I - 200, "ids": []},
            "Gone": {"created_at_i": 5, "ids": []},
            "Globex": "garbage",
        }
    }
    batches = run(collector(fake.server, [ACME, globex]), old)
    filters = [p["numericFilters"] for p in params(fake.server)]
    assert filters == [f"created_at_i>={NOW_I - 200}", f"created_at_i>={DAY_AGO}"]
    assert [b.cursor for b in batches] == [
        {"brands": {"Acme": {"created_at_i": NOW_I - 100, "ids": ["1"]}}},
        {
            "brands": {
                "Acme": {"created_at_i": NOW_I - 100, "ids": ["1"]},
                "Globex": {"created_at_i": NOW_I - 50, "ids": ["2"]},
            }
        },
    ]


def test_mark_from_json_refuses_garbage() -> None:
    assert Mark.from_json({"created_at_i": 5, "ids": ["a", 3]}) == Mark(5, frozenset({"a"}))
    assert Mark.from_json({"created_at_i": True, "ids": []}) is None
    assert Mark.from_json({"created_at_i": "5", "ids": []}) is None
    assert Mark.from_json(None) is None


# -- deep pagination -------------------------------------------------------------------------


def test_the_pagination_cap_is_passed_by_slicing_on_created_at(
    fake: FakeAlgolia, caplog: pytest.LogCaptureFixture
) -> None:
    fake.cap = 4  # like Algolia's 1,000, scaled down: at most 2 pages of 2
    fake.hits = [hit(str(n), NOW_I - 1000 + n) for n in range(7)]
    with caplog.at_level(logging.INFO, "test.hackernews"):
        batches = run(collector(fake.server, hits_per_page=2))
    assert sorted(mentions(batches)) == [str(n) for n in range(7)]
    filters = [(p["numericFilters"], p["page"]) for p in params(fake.server)]
    assert filters[:3] == [
        (f"created_at_i>={DAY_AGO}", "0"),
        (f"created_at_i>={DAY_AGO}", "1"),
        (f"created_at_i>={DAY_AGO},created_at_i<={NOW_I - 997}", "0"),
    ]
    assert "pagination cap" in caplog.text
    assert batches[-1].cursor == hn_cursor(NOW_I - 994, "6")


def test_running_out_of_pages_is_logged(
    fake: FakeAlgolia, caplog: pytest.LogCaptureFixture
) -> None:
    fake.hits = [hit(str(n), NOW_I - 1000 + n) for n in range(7)]
    with caplog.at_level(logging.WARNING, "test.hackernews"):
        batches = run(collector(fake.server, hits_per_page=2, max_pages=2))
    assert len(params(fake.server)) == 2
    assert sorted(mentions(batches)) == ["3", "4", "5", "6"]
    assert "max_pages (2) reached" in caplog.text


# -- failures ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_rate_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(RateLimited) as caught:
        run(collector(httpserver))
    assert caught.value.retry_after == 120
    assert caught.value.permanent is False


def test_a_server_error_fails_the_poll_without_rows(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("Bad Gateway", status=502)
    c = collector(httpserver)
    with pytest.raises(FetchError) as caught:
        run(c)
    assert "HTTP 502" in caught.value.message
    assert caught.value.permanent is False


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Service Unavailable</body></html>",
        json.dumps(fixture("search_page0.json")).encode()[:700],
        b'{"hits": "nope"}',
        b"\xff\xfe{}",
    ],
    ids=["html", "truncated-json", "no-hits-list", "bad-utf8"],
)
def test_a_body_that_is_not_a_search_result_is_a_retryable_error(
    httpserver: HTTPServer, body: bytes
) -> None:
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    batches: list[Batch] = []
    with pytest.raises(CollectorError) as caught:
        batches.extend(collector(httpserver).collect(None))
    assert batches == []
    assert caught.value.permanent is False
    assert "/api/v1/search_by_date" in caught.value.message
    assert "numericFilters" not in caught.value.message  # no query string in messages


def test_a_body_cut_short_of_its_content_length_is_an_error(httpserver: HTTPServer) -> None:
    whole = json.dumps(fixture("search_page0.json")).encode()

    def cut(request: Request) -> Response:
        response = Response(whole[:500], content_type="application/json")
        response.headers["Content-Length"] = str(len(whole))
        return response

    httpserver.expect_request(PATH).respond_with_handler(cut)
    with pytest.raises(CollectorError) as caught:
        run(collector(httpserver))
    assert caught.value.permanent is False


def test_a_failure_on_a_later_page_yields_no_cursor(fake: FakeAlgolia) -> None:
    fake.hits = [hit(str(n), NOW_I - 100 + n) for n in range(6)]
    fake.fail_page = 2
    batches: list[Batch] = []
    with pytest.raises(FetchError):
        batches.extend(collector(fake.server, hits_per_page=2).collect(None))
    assert [b.cursor for b in batches] == [None]  # page 0 may be stored; the cursor may not move


# -- through the pipeline with a real store ------------------------------------------------------


def make_runtime(tmp_path: Path, server: HTTPServer, hits_per_page: int = 100) -> Runtime:
    config = tmp_path / "kuulo.toml"
    config.write_text(
        f"""
[kuulo]
database = "{(tmp_path / "kuulo.db").as_posix()}"

[http]
retries = 0
backoff_factor = 0
read_timeout = 5

[[brands]]
name = "Acme"
query = 'Acme -"acme road"'

[[brands]]
name = "Globex"
query = "Globex"

[[sources]]
name = "hn"
kind = "hackernews"
base_url = "{server.url_for("/").rstrip("/")}"
hits_per_page = {hits_per_page}
backfill = "2d"
""",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    return Runtime.from_settings(settings, clock=lambda: NOW, jitter=lambda every: timedelta(0))


def stored(store: SqliteStore) -> dict[str, str]:
    return {r["native_id"]: r["brands"] for r in store.export_rows(MentionFilter())}


def keys_are_unique(store: SqliteStore) -> bool:
    total, distinct = store.db.execute(
        "SELECT count(*), count(DISTINCT source_name || ':' || native_id) FROM mentions"
    ).fetchone()
    return bool(total == distinct)


def test_collected_hits_are_stored_linked_and_polled_incrementally(
    tmp_path: Path, fake: FakeAlgolia
) -> None:
    fake.hits = [
        hit("1", NOW_I - 3600, "Acme anvil broke"),
        hit("2", NOW_I - 1800, "Globex and Acme compared"),
        hit("3", NOW_I - 900, "Globex launch"),
        hit("4", NOW_I - 600, "on the acme road again"),  # found by "acme", excluded locally
    ]
    rt = make_runtime(tmp_path, fake.server)
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        first = collect_source(store, rt, rt.sources["hn"])
        assert (first.status, first.new) == ("ok", 3)
        assert stored(store) == {"1": "Acme", "2": "Acme;Globex", "3": "Globex"}

        fake.hits += [hit("5", NOW_I - 600, "Acme at the same second"), hit("6", NOW_I, "Acme")]
        second = collect_source(store, rt, rt.sources["hn"])
        assert (second.status, second.new, second.updated) == ("ok", 2, 0)
        assert set(stored(store)) == {"1", "2", "3", "5", "6"}
        assert keys_are_unique(store)
        state = store.source_state("hn")
        assert state is not None
        assert state.cursor == {
            "brands": {
                "Acme": {"created_at_i": NOW_I, "ids": ["6"]},
                "Globex": {"created_at_i": NOW_I - 900, "ids": ["3"]},
            }
        }


def test_a_crash_between_pages_then_a_rerun_loses_and_repeats_nothing(
    tmp_path: Path, fake: FakeAlgolia
) -> None:
    fake.hits = [hit(str(n), NOW_I - 1000 + n, f"Acme item {n}") for n in range(6)]
    fake.fail_page = 2  # the poll dies after two pages: page 0 is stored, page 1 was in hand
    rt = make_runtime(tmp_path, fake.server, hits_per_page=2)
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        crashed = collect_source(store, rt, rt.sources["hn"])
        assert crashed.status == "error"
        assert "HTTP 500" in (crashed.error or "")
        assert set(stored(store)) == {"5", "4"}
        state = store.source_state("hn")
        assert state is not None
        assert state.cursor is None  # never ahead of stored data

        fake.hits.append(hit("6", NOW_I - 10, "Acme after the crash"))
        rerun = collect_source(store, rt, rt.sources["hn"])
        assert (rerun.status, rerun.new, rerun.unchanged) == ("ok", 5, 2)
        assert set(stored(store)) == {str(n) for n in range(7)}
        assert keys_are_unique(store)
