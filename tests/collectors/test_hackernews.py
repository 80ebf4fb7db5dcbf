"""Hacker News (Algolia) collector against a loopback fake of the search API: requests, mapping,
the cursor and deep pagination. Helpers live in ``hackernews_support``; ``fake`` in ``conftest``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from collectors.hackernews import Mark, search_term
from kuulo.matching import Brand, BrandQuery
from tests.collectors.hackernews_support import (
    ACME,
    DAY_AGO,
    NOW_I,
    PATH,
    FakeAlgolia,
    _qs,
    collector,
    fixture,
    hit,
    hn_cursor,
    mentions,
    params,
    run,
    serve_pages,
)

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
    first = run(collector(fake.server, overlap="0s"))
    assert sorted(mentions(first)) == ["10", "11", "12"]
    cursor = first[-1].cursor
    assert cursor == hn_cursor(t, "11", "12")

    fake.hits += [hit("13", t), hit("14", t + 1)]  # indexed after the first poll
    second = run(collector(fake.server, overlap="0s"), cursor)

    assert params(fake.server)[-1]["numericFilters"] == f"created_at_i>={t}"
    assert sorted(mentions(second)) == ["13", "14"]
    assert second[-1].cursor == hn_cursor(t + 1, "14")

    third = run(collector(fake.server, overlap="0s"), second[-1].cursor)
    assert mentions(third) == {}
    assert third[-1].cursor == hn_cursor(t + 1, "14")


def test_items_indexed_late_are_found_by_the_overlap(fake: FakeAlgolia) -> None:
    t = NOW_I - 600
    fake.hits = [hit("20", t - 60), hit("21", t)]
    first = run(collector(fake.server))
    assert first[-1].cursor == hn_cursor(t, "21")

    # posted two minutes before the mark but only searchable now; one far older is out of reach
    fake.hits += [hit("22", t - 120), hit("23", t - 3600)]
    second = run(collector(fake.server), first[-1].cursor)

    assert params(fake.server)[-1]["numericFilters"] == f"created_at_i>={t - 600}"
    assert sorted(mentions(second)) == ["20", "22"]  # 20 again (stored unchanged), 22 late
    assert second[-1].cursor == hn_cursor(t, "21")  # the mark does not move backwards


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
    batches = run(collector(fake.server, [ACME, globex], overlap="0s"), old)
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
