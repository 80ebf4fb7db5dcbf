"""The Reddit collector through the real praw/prawcore client against a fake Reddit on loopback.

pytest-httpserver answers the client-credentials token request and serves ``Listing`` JSON from
``tests/fixtures/reddit`` (the real shapes: ``kind``, ``data.children[].data``, ``data.after``).
Normal responses carry rate-limit headers with plenty of budget left, so prawcore never sleeps.
The fixtures are dated relative to ``NOW``.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prawcore.rate_limit import RateLimiter
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.reddit import RedditCollector, RedditConfig, to_reddit_query
from collectors.reddit_http import CREDENTIAL_HELP, RateBudget, parse_ratelimit, prawcore_wait
from kuulo.errors import CollectorError, FetchError, RateLimited
from kuulo.http import make_session
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention, Skipped
from kuulo.pipeline import Runtime, collect_source, sync_sources
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings, load_settings
from kuulo.store import MentionFilter, SqliteStore, open_store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reddit"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = 3600.0
CLIENT_ID = "test-client"
SECRET = "CANARY-reddit-secret-42"
USER_AGENT = "test:kuulo-tests:1.0 (by /u/kuulo)"
ACME_QUERY = 'Acme OR "Acme Corp"'
BUDGET_OK = {"X-Ratelimit-Remaining": "996.0", "X-Ratelimit-Used": "4", "X-Ratelimit-Reset": "372"}
PAGE_1, PAGE_2 = "search_page1.json", "search_page2.json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def listing_response(name: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        fixture(name), content_type="application/json", headers=BUDGET_OK | (headers or {})
    )


class FakeReddit:
    """The token endpoint plus listings chosen by the ``after`` parameter."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.url = server.url_for("/").rstrip("/")
        server.expect_request("/api/v1/access_token", method="POST").respond_with_data(
            fixture("token.json"), content_type="application/json"
        )

    def listing(self, path: str, pages: dict[str | None, str]) -> None:
        def handle(request: Request) -> Response:
            return listing_response(pages[request.args.get("after")])

        self.server.expect_request(path, method="GET").respond_with_handler(handle)

    def answer(self, path: str, handler: Callable[[Request], Response]) -> None:
        self.server.expect_request(path, method="GET").respond_with_handler(handler)

    def requests(self, path: str) -> list[Request]:
        return [request for request, _ in self.server.log if request.path == path]


@pytest.fixture
def reddit(httpserver: HTTPServer) -> FakeReddit:
    return FakeReddit(httpserver)


def context(
    http: HttpSettings | None = None,
    brands: Sequence[Brand] | None = None,
    now: datetime = NOW,
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, connect_timeout=2, read_timeout=2)
    return CollectorContext(
        source_name="reddit-acme",
        brands=[Brand("Acme", BrandQuery(ACME_QUERY))] if brands is None else brands,
        http=settings,
        session_factory=lambda: make_session(settings),
        now=lambda: now,
        logger=logging.getLogger("test.reddit"),
    )


def collector(
    url: str, *, ctx: CollectorContext | None = None, secret: str = SECRET, **options: Any
) -> RedditCollector:
    config = RedditConfig(
        client_id=SecretStr(CLIENT_ID),
        client_secret=SecretStr(secret),
        user_agent=USER_AGENT,
        base_url=url,
        auth_url=url,
        **options,
    )
    return RedditCollector(config, ctx or context())


def run(c: RedditCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(c.collect(cursor))


def ids(batch: Batch) -> list[str]:
    return [m.native_id for m in batch.mentions]


def mark(created: float, *fullnames: str, scope: str = f"all {ACME_QUERY}") -> dict[str, Any]:
    return {"scope": scope, "created": created, "ids": sorted(fullnames)}


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


# -- bad input ------------------------------------------------------------------------------------


def test_bad_records_are_skipped_with_reasons(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: "search_bad.json"})

    [batch] = run(collector(reddit.url))

    assert ids(batch) == ["t3_ok1", "t3_idonly"]
    assert batch.mentions[0].likes is None  # "12" (a string) is not a count
    assert batch.mentions[0].replies is None
    assert batch.skipped == [
        Skipped("not a submission (t3) or comment (t1) record"),  # "oops"
        Skipped("not a submission (t3) or comment (t1) record"),  # a t5 (subreddit)
        Skipped("not a submission (t3) or comment (t1) record"),  # data is a list
        Skipped("record has no valid id (fullname)"),
        Skipped("created_utc is missing or not a number", "t3_strdate"),
        Skipped("title is not a string", "t3_badtitle"),
        Skipped("created_utc is out of range", "t3_future"),
        Skipped("no text (empty, deleted or removed)", "t3_empty"),
        Skipped("record has no valid id (fullname)"),  # an integer id
    ]


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"kind": "t3", "data": {}}', b'{"kind": "Listing", "data": {"children": 5}}'],
)
def test_an_answer_that_is_not_a_listing_fails_the_fetch(reddit: FakeReddit, body: bytes) -> None:
    reddit.answer("/r/all/search/", lambda r: Response(body, content_type="application/json"))
    with pytest.raises(FetchError, match="Listing") as info:
        run(collector(reddit.url))
    assert not info.value.permanent


def test_a_body_over_the_size_cap_fails_the_fetch(reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1})
    small = HttpSettings(retries=0, max_bytes=1000)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        run(collector(reddit.url, ctx=context(http=small)))


# -- rate limits -----------------------------------------------------------------------------------


def test_reddit_reset_is_seconds_to_go_not_an_epoch() -> None:
    """X's x-rate-limit-reset is an epoch; Reddit's X-Ratelimit-Reset counts seconds."""
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "1000", "x-ratelimit-reset": "120"}
    assert parse_ratelimit(headers) == (0.0, 1000, 120.0)
    assert prawcore_wait(0.0, 1000, 120.0) == 120.0
    clock = iter([1000.0, 1000.0, 1000.0]).__next__
    budget = RateBudget(clock=clock)
    budget.observe(dict(headers))
    with pytest.raises(RateLimited) as info:
        budget.check()
    assert info.value.retry_after == 120.0  # not 120 - time.time(), nor an epoch
    # An epoch-looking value cannot pause a source for decades: clamped to an hour.
    assert parse_ratelimit({**headers, "x-ratelimit-reset": "1795608120"}) == (0.0, 1000, 3600.0)
    assert parse_ratelimit({**headers, "x-ratelimit-used": "lots"}) is None


@pytest.mark.parametrize(
    ("remaining", "used", "reset"), [(0, 1000, 42), (996, 4, 372), (3, 997, 300), (50, 550, 500)]
)
def test_prawcore_wait_matches_prawcores_rate_limiter(
    remaining: int, used: int, reset: int
) -> None:
    limiter = RateLimiter(window_size=600)
    start = time.monotonic_ns()
    limiter.update(
        response_headers={
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
        }
    )
    assert limiter.next_request_timestamp_ns is not None
    expected = (limiter.next_request_timestamp_ns - start) / 1e9
    assert prawcore_wait(remaining, used, reset) == pytest.approx(expected, abs=0.05)


def test_429_pauses_for_the_reset_seconds(reddit: FakeReddit) -> None:
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "120"}
    reddit.answer("/r/all/search/", lambda r: Response("Too Many Requests", 429, headers=spent))
    started = time.monotonic()

    with pytest.raises(RateLimited) as info:
        run(collector(reddit.url))

    assert time.monotonic() - started < 2  # neither prawcore nor kuulo slept through it
    assert info.value.retry_after == 120.0
    assert not info.value.permanent
    assert len(reddit.requests("/r/all/search/")) == 1


def test_429_with_retry_after_uses_it(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response("slow down", 429, {"Retry-After": "30"}))
    with pytest.raises(RateLimited) as info:
        run(collector(reddit.url))
    assert info.value.retry_after == 30.0


def test_a_spent_budget_stops_before_the_next_request(reddit: FakeReddit) -> None:
    """prawcore would sleep 300 s before page 2; the collector hands the wait to the scheduler."""
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "300"}
    reddit.answer("/r/all/search/", lambda r: listing_response(PAGE_1, spent))
    started = time.monotonic()
    batches: list[Batch] = []

    with pytest.raises(RateLimited) as info:
        batches.extend(collector(reddit.url).collect(None))

    assert time.monotonic() - started < 2
    assert info.value.retry_after == 300.0
    assert [ids(b) for b in batches] == [["t3_p1a", "t3_p1b", "t3_p1c"]]
    assert batches[0].cursor is None  # the stream is incomplete: the stored cursor stays
    assert len(reddit.requests("/r/all/search/")) == 1


# -- failures -----------------------------------------------------------------------------------


def test_401_on_the_token_is_permanent_and_names_no_secret(
    reddit: FakeReddit, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(
        {"message": "Unauthorized", "error": 401}, status=401
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(CollectorError) as info:
        run(collector(reddit.url))
    assert info.value.permanent
    assert "HTTP 401" in info.value.message
    assert "prefs/apps" in info.value.message
    assert SECRET not in info.value.message
    assert SECRET not in caplog.text
    assert reddit.requests("/r/all/search/") == []


def test_an_oauth_error_answer_is_permanent(reddit: FakeReddit, httpserver: HTTPServer) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(
        {"error": "invalid_grant"}
    )
    with pytest.raises(CollectorError, match="invalid_grant") as info:
        run(collector(reddit.url))
    assert info.value.permanent


def test_403_on_search_is_permanent(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response('{"error": 403}', 403))
    with pytest.raises(CollectorError, match="HTTP 403") as info:
        run(collector(reddit.url))
    assert info.value.permanent


def test_500_is_transient_and_not_retried_by_prawcore(reddit: FakeReddit) -> None:
    reddit.answer("/r/all/search/", lambda r: Response("oops", 500))
    started = time.monotonic()
    with pytest.raises(FetchError, match="HTTP 500") as info:
        run(collector(reddit.url))
    assert not info.value.permanent
    assert len(reddit.requests("/r/all/search/")) == 1  # [http] retries = 0, and no more
    assert time.monotonic() - started < 2  # prawcore's retries would sleep 2-6 s


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="failed") as info:
        run(collector(f"http://127.0.0.1:{port}"))
    assert not info.value.permanent
    assert SECRET not in info.value.message


def test_the_http_read_timeout_applies(reddit: FakeReddit) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return listing_response(PAGE_1)

    reddit.answer("/r/all/search/", slow)
    quick = HttpSettings(retries=0, connect_timeout=1, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out reading"):
        run(collector(reddit.url, ctx=context(http=quick)))
    assert time.monotonic() - started < 0.9  # not prawcore's 16 s


def test_missing_credentials_fail_without_a_request(reddit: FakeReddit) -> None:
    with pytest.raises(CollectorError, match="credentials are not set") as info:
        run(collector(reddit.url, secret=""))
    assert info.value.permanent
    assert reddit.server.log == []


# -- through the pipeline, with a real SQLite store ----------------------------------------------

ENVIRON = {"KUULO_REDDIT_CLIENT_ID": CLIENT_ID, "KUULO_REDDIT_CLIENT_SECRET": SECRET}


def runtime(tmp_path: Path, url: str, environ: dict[str, str] = ENVIRON) -> Runtime:
    config = tmp_path / "kuulo.toml"
    config.write_text(
        f"""
[kuulo]
database = "{(tmp_path / "kuulo.db").as_posix()}"

[http]
retries = 0
connect_timeout = 2
read_timeout = 5

[[brands]]
name = "Acme"
query = '{ACME_QUERY}'

[[sources]]
name = "reddit"
kind = "reddit"
every = "15m"
client_id = {{ "$env" = "KUULO_REDDIT_CLIENT_ID" }}
client_secret = {{ "$env" = "KUULO_REDDIT_CLIENT_SECRET" }}
user_agent = "{USER_AGENT}"
base_url = "{url}"
auth_url = "{url}"
""",
        encoding="utf-8",
    )
    settings = load_settings(config, environ=environ)
    return Runtime.from_settings(settings, clock=lambda: NOW, jitter=lambda every: timedelta(0))


def opened(rt: Runtime) -> SqliteStore:
    store = open_store(rt.settings.database_path())
    assert isinstance(store, SqliteStore)
    sync_sources(store, rt)
    return store


def stored_ids(store: SqliteStore) -> list[str]:
    return sorted(r["native_id"] for r in store.export_rows(MentionFilter()))


def assert_cursor_not_ahead(store: SqliteStore) -> None:
    """Every fullname the cursor claims, and its newest second, is in the database."""
    state = store.source_state("reddit")
    assert state is not None
    rows = list(store.export_rows(MentionFilter()))
    for brand_mark in ((state.cursor or {}).get("brands") or {}).values():
        assert set(brand_mark["ids"]) <= {r["native_id"] for r in rows}
        newest = max(datetime.fromisoformat(r["published_at"]) for r in rows)
        assert brand_mark["created"] <= newest.timestamp()


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing catches it."""


def test_pipeline_stores_mentions_then_only_new_ones(tmp_path: Path, reddit: FakeReddit) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        first = collect_source(store, rt, rt.sources["reddit"])
        assert (first.status, first.error, first.new, first.fetched) == ("ok", None, 4, 4)
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        row = next(r for r in store.export_rows(MentionFilter()) if r["native_id"] == "t3_p1a")
        engagement = (row["source"], row["brands"], row["likes"], row["replies"])
        assert engagement == ("reddit", "Acme", 42, 7)
        assert row["published_at"] == "2026-11-25T11:00:00Z"
        assert_cursor_not_ahead(store)

        reddit.server.clear()
        FakeReddit(reddit.server).listing("/r/all/search/", {None: "search_poll2.json"})
        second = collect_source(store, rt, rt.sources["reddit"])
        assert (second.status, second.new, second.fetched) == ("ok", 2, 2)
        assert stored_ids(store) == sorted(
            ["t3_n1", "t3_same", "t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        )
        assert_cursor_not_ahead(store)


def test_a_crash_between_pages_then_a_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    reddit.listing("/r/all/search/", {None: PAGE_1, "t3_p1c": PAGE_2})
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        real_save = store.save_batch
        saved: list[Cursor | None] = []

        def dying_save(name: str, items: Any, cursor: Cursor | None, now: datetime) -> Any:
            if saved:  # page 2 was fetched, but the process dies before storing it
                raise Crash
            saved.append(cursor)
            return real_save(name, items, cursor, now)

        monkeypatch.setattr(store, "save_batch", dying_save)
        with pytest.raises(Crash):
            collect_source(store, rt, rt.sources["reddit"])
        assert saved == [None]
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c"]
        state = store.source_state("reddit")
        assert state is not None
        assert state.cursor is None  # never ahead of what is stored

    with opened(rt) as store:  # the restarted process
        rerun = collect_source(store, rt, rt.sources["reddit"])
        assert (rerun.status, rerun.new, rerun.unchanged) == ("ok", 1, 3)
        assert stored_ids(store) == ["t3_p1a", "t3_p1b", "t3_p1c", "t3_p2a"]
        count = store.db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
        assert tuple(count) == (4, 4)
        assert_cursor_not_ahead(store)


def test_pipeline_429_pauses_only_for_the_reset_seconds(tmp_path: Path, reddit: FakeReddit) -> None:
    spent = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000", "X-Ratelimit-Reset": "120"}
    reddit.answer("/r/all/search/", lambda r: Response("Too Many Requests", 429, headers=spent))
    rt = runtime(tmp_path, reddit.url)
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["reddit"])
        state = store.source_state("reddit")
    assert outcome.status == "paused"  # a RateLimited pause, not a failure
    assert "HTTP 429" in (outcome.error or "")
    assert state is not None
    assert state.paused_until == NOW + timedelta(seconds=120)  # seconds to go, not epoch 120


def test_missing_credentials_disable_the_source_with_help(
    tmp_path: Path, reddit: FakeReddit
) -> None:
    rt = runtime(tmp_path, reddit.url, environ={})
    reason = rt.sources["reddit"].disabled_reason
    assert reason is not None
    assert "KUULO_REDDIT_CLIENT_ID" in reason
    assert CREDENTIAL_HELP in reason


@pytest.fixture(autouse=True)
def _no_real_reddit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: no test may reach the real hosts."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert "reddit.com" not in str(host), "a test tried to reach Reddit"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
