"""The Reddit collector through the real praw/prawcore client against a fake Reddit on loopback:
query, config and polling. Helpers live in ``reddit_support``; fixtures in ``conftest``.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from pydantic import SecretStr, ValidationError

from collectors.reddit import RedditConfig, to_reddit_query
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Mention, Skipped
from tests.collectors.reddit_support import (
    ACME_QUERY,
    CLIENT_ID,
    HOUR,
    NOW,
    PAGE_1,
    PAGE_2,
    SECRET,
    USER_AGENT,
    FakeReddit,
    collector,
    context,
    ids,
    mark,
    run,
)

pytestmark = pytest.mark.usefixtures("_no_real_reddit")


# -- query and config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", "acme"),
        ('"Acme Corp"', '"Acme Corp"'),
        ("(Acme OR @acme OR #acme)", "Acme OR acme"),
        ('acme -"acme road"', 'acme AND NOT "acme road"'),
        ('("Acme Corp" OR @acme) -"acme road"', '("Acme Corp" OR acme) AND NOT "acme road"'),
        ("acme* NOT (road OR runner)", "acme AND NOT (road OR runner)"),
        ("acme AND e-mail", "acme AND e-mail"),  # a hyphen inside a word is not an exclusion
        ('(a b) OR "x -y"', '(a AND b) OR "x -y"'),  # nor one inside a phrase
    ],
)
def test_brand_queries_become_reddit_search_syntax(query: str, expected: str) -> None:
    assert to_reddit_query(BrandQuery(query)) == expected


def test_config_normalises_and_validates() -> None:
    secrets = {"client_id": SecretStr("a"), "client_secret": SecretStr("b")}
    config = RedditConfig(
        **secrets,
        user_agent=USER_AGENT,
        subreddits=("r/Acme", "/r/road_runner", "Acme"),
        auth_url="http://127.0.0.1:9/",
    )
    assert config.subreddits == ("Acme", "road_runner")
    assert config.auth_url == "http://127.0.0.1:9"  # prawcore appends /api/v1/access_token
    assert (config.backfill, config.max_pages, config.comments) == (timedelta(hours=24), 5, False)
    for bad in (
        {"subreddits": ("no spaces",)},
        {"subreddits": ("a",)},
        {"comments": True},  # comments need subreddits
        {"base_url": "ftp://example.com"},
        {"max_pages": 11},
        {"user_agent": "praw"},
        {"client_id": "written-inline"},  # secrets must be {"$env" = ...} or {"$file" = ...}
    ):
        with pytest.raises(ValidationError):
            RedditConfig.model_validate({**secrets, "user_agent": USER_AGENT, **bad})


# -- the first poll ----------------------------------------------------------------------------


def test_first_poll_authenticates_searches_r_all_and_pages_to_the_backfill(
    reddit: FakeReddit,
) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})

    batches = run(collector(reddit.url))

    [token] = [r for r, _ in reddit.server.log if r.path == "/api/v1/access_token"]
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert token.headers["Authorization"] == f"Basic {basic}"
    assert token.form["grant_type"] == "client_credentials"
    first, second = reddit.requests("/r/all/search/")  # page 2 reached the backfill: no page 3
    for request in (first, second):
        assert request.headers["Authorization"] == "bearer test-token-abc"
        assert request.headers["User-Agent"].startswith(USER_AGENT)
        assert request.args["q"] == ACME_QUERY
        assert (request.args["sort"], request.args["restrict_sr"]) == ("new", "False")
        assert (request.args["t"], request.args["limit"]) == ("day", "100")
    assert "after" not in first.args
    assert second.args["after"] == "t3_p1c"

    assert [ids(b) for b in batches] == [["t3_p1a", "t3_p1b", "t3_p1c"], ["t3_p2a"]]
    assert batches[0].cursor is None  # persisted only once the whole stream is stored
    assert batches[1].cursor == {"brands": {"Acme": mark(NOW.timestamp() - HOUR, "t3_p1a")}}
    assert all(b.skipped == [] for b in batches)


def test_submissions_are_mapped(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})

    mentions = {m.native_id: m for b in run(collector(reddit.url)) for m in b.mentions}

    permalink = "/r/roadrunner/comments/p1a/acme_anvil_broke/"
    assert mentions["t3_p1a"] == Mention(
        source="reddit",
        source_name="reddit-acme",
        native_id="t3_p1a",
        url="https://www.reddit.com" + permalink,
        text="My Acme anvil broke after one day. Terrible support.",
        title="Acme anvil broke",
        published_at=NOW - timedelta(hours=1),
        author_name="wile_e",
        likes=42,
        replies=7,
        thread_id="t3_p1a",
    )
    assert mentions["t3_p1a"].raw == {
        "kind": "t3",
        "subreddit": "roadrunner",
        "permalink": permalink,
        "score": 42,
        "num_comments": 7,
        "over_18": False,
        "url": "https://www.reddit.com" + permalink,
    }
    json.dumps(dict(mentions["t3_p1a"].raw))  # JSON-safe
    link_post = mentions["t3_p1b"]
    # No body: the title is the text (it is what gets scored); the link is kept in raw.
    assert (link_post.text, link_post.title) == ("Acme Corp announces rocket skates",) * 2
    assert link_post.author_name is None  # [deleted]
    assert link_post.raw["url"] == "https://news.example.com/acme-skates"
    assert (link_post.rating, link_post.parent_id, link_post.language) == (None, None, None)


def test_second_poll_yields_only_new_items(reddit: FakeReddit) -> None:
    """The cursor's second is re-read: an unseen item at that exact second is still new."""
    reddit.listing("/r/all/search/", {None: "search_poll2.json"})
    cursor = {"brands": {"Acme": mark(NOW.timestamp() - HOUR, "t3_p1a")}}
    later = context(now=NOW + timedelta(minutes=15))

    [batch] = run(collector(reddit.url, ctx=later), cursor)

    assert ids(batch) == ["t3_n1", "t3_same"]
    assert batch.cursor == {"brands": {"Acme": mark(NOW.timestamp() + 600, "t3_n1")}}
    [request] = reddit.requests("/r/all/search/")  # t3_p1b is older than the cursor: stop
    assert request.args["t"] == "day"  # the mark is 75 min old: "hour" would not cover it


def test_posts_indexed_late_are_found_by_the_overlap(reddit: FakeReddit) -> None:
    """t3_late was posted 5 minutes before the mark but only became searchable after it."""
    reddit.listing("/r/all/search/", {None: "search_late.json"})
    cursor = {"brands": {"Acme": mark(NOW.timestamp() - HOUR, "t3_p1a")}}
    later = context(now=NOW + timedelta(minutes=15))

    [batch] = run(collector(reddit.url, ctx=later), cursor)
    assert ids(batch) == ["t3_n1", "t3_same", "t3_late"]  # t3_p1b is older than the overlap
    assert batch.cursor == {"brands": {"Acme": mark(NOW.timestamp() + 600, "t3_n1")}}

    [batch] = run(collector(reddit.url, ctx=later, overlap="0"), cursor)
    assert ids(batch) == ["t3_n1", "t3_same"]  # without it the late post is passed for good


def test_a_poll_with_nothing_new_keeps_the_mark(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_2})
    cursor = {"brands": {"Acme": mark(NOW.timestamp() - 3 * HOUR, "t3_p1c")}}

    [batch] = run(collector(reddit.url), cursor)

    assert batch.mentions == []
    assert batch.cursor == cursor


def test_a_changed_query_or_subreddit_list_backfills_afresh(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})
    stale = {"brands": {"Acme": mark(NOW.timestamp(), "t3_x", scope="all acme"), "Gone": {}}}

    batches = run(collector(reddit.url), stale)

    assert [ids(b) for b in batches] == [["t3_p1a", "t3_p1b", "t3_p1c"], ["t3_p2a"]]
    assert batches[-1].cursor == {"brands": {"Acme": mark(NOW.timestamp() - HOUR, "t3_p1a")}}


def test_max_pages_bounds_a_poll(reddit: FakeReddit, caplog: pytest.LogCaptureFixture) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1})

    [batch] = run(collector(reddit.url, max_pages=1))

    assert ids(batch) == ["t3_p1a", "t3_p1b", "t3_p1c"]
    assert batch.cursor is not None
    assert "max_pages reached" in caplog.text


def test_subreddits_restrict_the_search_and_comments_are_read(reddit: FakeReddit) -> None:
    path = "/r/acme+roadrunner"
    reddit.listing(f"{path}/search/", {None: PAGE_2})
    reddit.listing(f"{path}/comments/", {None: "comments_page1.json"})
    c = collector(reddit.url, subreddits=("acme", "r/roadrunner"), comments=True)

    search, comments = run(c)

    [request] = reddit.requests(f"{path}/search/")
    assert request.args["restrict_sr"] == "True"
    assert ids(search) == ["t3_p1c", "t3_p2a"]
    [request] = reddit.requests(f"{path}/comments/")  # t1_c4 is older than the backfill
    assert request.args["limit"] == "100"
    # Comments are not filtered here: the pipeline matches them (and keeps all for `owned`).
    assert ids(comments) == ["t1_c1", "t1_c3"]
    assert comments.skipped == [Skipped("no text (empty, deleted or removed)", "t1_c2")]
    first = comments.mentions[0]
    assert (first.text, first.title, first.likes, first.replies) == (
        "Acme shipped my order late again", None, 3, None,
    )  # fmt: skip
    assert (first.parent_id, first.thread_id) == ("t3_p1a", "t3_p1a")
    assert first.url == "https://www.reddit.com/r/roadrunner/comments/p1a/acme_anvil_broke/c1/"
    assert first.raw["link_title"] == "Acme anvil broke"
    assert comments.mentions[1].parent_id == "t1_c1"
    assert comments.cursor is not None
    scope = "acme+roadrunner"
    assert comments.cursor["comments"] == mark(NOW.timestamp() - 1800, "t1_c1", scope=scope)
    assert set(comments.cursor["brands"]) == {"Acme"}


def test_an_item_found_for_two_brands_is_yielded_once(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_2})
    brands = [Brand("Acme", BrandQuery("Acme")), Brand("Rockets", BrandQuery("rocket"))]

    first, second = run(collector(reddit.url, ctx=context(brands=brands)))

    assert (ids(first), ids(second)) == (["t3_p1c", "t3_p2a"], [])
    assert second.cursor is not None
    assert second.cursor["brands"]["Rockets"]["ids"] == ["t3_p1c"]  # still covered by the mark
