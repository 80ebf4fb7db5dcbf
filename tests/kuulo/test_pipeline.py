"""The pipeline end to end: TOML settings -> RSS over loopback HTTP -> store -> VADER scores.

Feeds are served by pytest-httpserver from ``tests/fixtures/pipeline``; the database is a real
SQLite file in ``tmp_path``; the clock is fixed and jitter is zero so schedules are exact.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kuulo import registry
from kuulo.model import Batch, Cursor, Mention
from kuulo.pipeline import NO_BRAND, Runtime, collect_source, score_pending
from kuulo.protocols import CollectorContext, PluginConfig
from kuulo.scheduler import Ticker
from kuulo.store import MentionFilter, SqliteStore, open_store
from tests.support import fixed_runtime, opened, write_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pipeline"
ACME_FEED = (FIXTURES / "acme.xml").read_bytes()
OWNED_FEED = (FIXTURES / "owned.xml").read_bytes()
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)
MATCHING = {"acme-support", "acme-thanks", "acme-anvil", "acme-fi"}

ACME = """
[[brands]]
name = "Acme"
query = '(Acme OR @acme) -"acme road"'
"""
GLOBEX = """
[[brands]]
name = "Globex"
query = "Globex"
"""


# -- helpers ------------------------------------------------------------------------------------


def source(name: str, kind: str = "rss", **options: Any) -> str:
    """A ``[[sources]]`` table; option values are written as JSON, which TOML accepts here."""
    lines = ["[[sources]]", f'name = "{name}"', f'kind = "{kind}"', 'every = "15m"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def make_runtime(tmp_path: Path, *sources: str, brands: str = ACME) -> Runtime:
    config = write_config(
        tmp_path,
        f"""
[http]
retries = 0
backoff_factor = 0
connect_timeout = 2
read_timeout = 5
{brands}
{"".join(sources)}
""",
        tmp_path / "data" / "kuulo.db",
    )
    return fixed_runtime(config, NOW)


def serve_feed(body: bytes, etag: str | None = None) -> Callable[[Request], Response]:
    """A feed handler that answers a matching If-None-Match with 304."""

    def handle(request: Request) -> Response:
        if etag and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(
            body, content_type="application/rss+xml", headers={"ETag": etag} if etag else {}
        )

    return handle


def last_run(store: SqliteStore, name: str) -> dict[str, Any]:
    cur = store.db.execute(
        "SELECT * FROM runs WHERE source_name = ? ORDER BY id DESC LIMIT 1", [name]
    )
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def stored(store: SqliteStore, **filters: Any) -> dict[str, dict[str, Any]]:
    return {r["native_id"]: r for r in store.export_rows(MentionFilter(**filters))}


# -- one RSS source, end to end -------------------------------------------------------------------


def test_collect_match_store_and_score_a_feed(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/acme.xml").respond_with_handler(serve_feed(ACME_FEED, '"v1"'))
    rt = make_runtime(tmp_path, source("acme-news", url=httpserver.url_for("/acme.xml")))

    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["acme-news"])
        scored = score_pending(store, rt.scorer(), 100, rt.clock)
        rows = stored(store)
        run = last_run(store, "acme-news")
        state = store.source_state("acme-news")

    assert (outcome.status, outcome.error) == ("ok", None)
    assert (outcome.fetched, outcome.new, outcome.updated, outcome.unchanged) == (6, 4, 0, 0)
    assert outcome.skip_reasons == [NO_BRAND, NO_BRAND]  # the weather and "Acme Road"
    assert set(rows) == MATCHING
    assert {r["brands"] for r in rows.values()} == {"Acme"}
    assert scored == 4
    assert rows["acme-support"]["sentiment"] == "negative"
    assert rows["acme-anvil"]["sentiment"] == "negative"
    assert rows["acme-anvil"]["text"].startswith("The Acme anvil broke")  # HTML stripped
    assert rows["acme-thanks"]["sentiment"] == "positive"
    assert rows["acme-support"]["sentiment_model"] == "default"
    assert rows["acme-support"]["sentiment_reason"]  # why it was flagged
    finnish = rows["acme-fi"]  # routed to the Finnish model, not guessed by an English one
    assert (finnish["language"], finnish["sentiment"]) == ("fi", "negative")
    assert rows["acme-support"]["language"] == "en"
    assert rows["acme-support"]["published_at"] == "2026-11-24T08:15:00Z"

    assert (run["status"], run["fetched"], run["new"], run["skipped"]) == ("ok", 6, 4, 2)
    assert json.loads(run["skip_reasons"]) == [f"{NO_BRAND} (x2)"]
    assert state is not None
    assert state.cursor == {"etag": '"v1"'}
    assert (state.failures, state.last_error, state.last_ok_at) == (0, None, NOW)
    assert state.next_due == NOW + EVERY


def test_an_unchanged_feed_answers_304_and_stores_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/acme.xml").respond_with_handler(serve_feed(ACME_FEED, '"v1"'))
    rt = make_runtime(tmp_path, source("acme-news", url=httpserver.url_for("/acme.xml")))
    with opened(rt) as store:
        collect_source(store, rt, rt.sources["acme-news"])
        before = store.db.execute("SELECT * FROM mentions ORDER BY id").fetchall()

        second = collect_source(store, rt, rt.sources["acme-news"])

        assert (second.status, second.fetched, second.new, second.unchanged) == (
            "not_modified", 0, 0, 0,
        )  # fmt: skip
        assert store.db.execute("SELECT * FROM mentions ORDER BY id").fetchall() == before
        assert last_run(store, "acme-news")["status"] == "not_modified"
        assert store.source_state("acme-news").cursor == {"etag": '"v1"'}  # type: ignore[union-attr]
    requests = [request for request, _ in httpserver.log]
    assert "If-None-Match" not in requests[0].headers
    assert requests[1].headers["If-None-Match"] == '"v1"'


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"oops", "HTTP 500"),
        (200, ACME_FEED[: len(ACME_FEED) // 2], "malformed XML"),
        (200, b"<!doctype html><html><body>Not a feed</body></html>", "looks like HTML"),
    ],
    ids=["http-500", "truncated-feed", "html-page"],
)
def test_a_failing_source_is_logged_backed_off_and_recovers(
    tmp_path: Path, httpserver: HTTPServer, status: int, body: bytes, message: str
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        body, status=status, content_type="application/rss+xml"
    )
    rt = make_runtime(tmp_path, source("broken", url=httpserver.url_for("/feed.xml")))
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["broken"])  # does not raise

        assert outcome.status == "error"
        assert message in (outcome.error or "")
        state = store.source_state("broken")
        assert state is not None
        assert state.failures == 1
        assert message in (state.last_error or "")
        assert state.last_ok_at is None
        assert state.next_due == NOW + EVERY
        assert state.cursor is None
        run = last_run(store, "broken")
        assert (run["status"], run["new"]) == ("error", 0)
        assert message in run["error"]
        assert store.count_mentions(MentionFilter()) == 0

        collect_source(store, rt, rt.sources["broken"])
        state = store.source_state("broken")
        assert state is not None
        assert state.failures == 2
        assert state.next_due == NOW + 2 * EVERY  # exponential backoff

        httpserver.clear()
        httpserver.expect_request("/feed.xml").respond_with_data(
            ACME_FEED, content_type="application/rss+xml"
        )
        assert collect_source(store, rt, rt.sources["broken"]).status == "ok"
        state = store.source_state("broken")
        assert state is not None
        assert (state.failures, state.last_error, state.last_ok_at) == (0, None, NOW)
        assert state.next_due == NOW + EVERY
        assert store.count_mentions(MentionFilter()) == 4


def test_429_with_retry_after_pauses_the_source(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "1200"}
    )
    rt = make_runtime(tmp_path, source("limited", url=httpserver.url_for("/feed.xml")))
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["limited"])
        state = store.source_state("limited")
        assert outcome.status == "paused"
        assert state is not None
        assert "rate limiting" in (state.last_error or "")
        assert state.failures == 0  # a pause is not a failure: no backoff piles on top
        assert state.paused_until == NOW + timedelta(seconds=1200)
        assert state.next_due == NOW + timedelta(seconds=1200)  # longer than `every`
        assert "limited" not in store.due_sources(NOW + timedelta(minutes=19))
        assert "limited" in store.due_sources(NOW + timedelta(minutes=20))
    assert len(httpserver.log) == 1  # a long Retry-After is not slept through inline


# -- owned channels -------------------------------------------------------------------------------


def test_an_owned_source_stores_everything_for_its_brands(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/blog.xml").respond_with_data(
        OWNED_FEED, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/blog.xml")
    rt = make_runtime(
        tmp_path,
        source("acme-blog", url=url, owned=True, brands=["Acme"]),
        source("plain", url=url),
        brands=ACME + GLOBEX,
    )
    with opened(rt) as store:
        owned = collect_source(store, rt, rt.sources["acme-blog"])
        plain = collect_source(store, rt, rt.sources["plain"])
        owned_rows = stored(store, sources=("acme-blog",))
        plain_rows = stored(store, sources=("plain",))

    assert (owned.new, owned.skip_reasons) == (2, [])
    assert {k: r["brands"] for k, r in owned_rows.items()} == {"spring": "Acme", "compare": "Acme"}
    # The same feed without `owned` keeps only what matches a brand query.
    assert (plain.new, plain.skip_reasons) == (1, [NO_BRAND])
    assert {k: r["brands"] for k, r in plain_rows.items()} == {"compare": "Globex"}


# -- the ticker: sources run side by side ------------------------------------------------------


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A loopback server that answers requests concurrently (the default one is serial)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_ticker_runs_a_slow_and_a_failing_source_side_by_side(
    tmp_path: Path, threaded_server: HTTPServer
) -> None:
    failing_started = threading.Event()
    overlapped: list[bool] = []

    def slow(request: Request) -> Response:
        # Only answers early if the failing source's request arrives while this one is open.
        overlapped.append(failing_started.wait(timeout=5))
        time.sleep(1.0)
        return Response(ACME_FEED, content_type="application/rss+xml")

    def failing(request: Request) -> Response:
        failing_started.set()
        return Response("boom", status=500)

    threaded_server.expect_request("/slow.xml").respond_with_handler(slow)
    threaded_server.expect_request("/fail.xml").respond_with_handler(failing)
    rt = make_runtime(
        tmp_path,
        source("slow", url=threaded_server.url_for("/slow.xml")),
        source("failing", url=threaded_server.url_for("/fail.xml")),
    )
    ticker = Ticker(rt, rt.settings.database_path())
    try:
        started = time.monotonic()
        ticker.run_once()
        elapsed = time.monotonic() - started
    finally:
        ticker.shutdown()

    assert overlapped == [True]
    assert elapsed < 4
    with opened(rt) as store:
        status = {s["name"]: s for s in store.source_status()}
        assert (status["slow"]["last_status"], status["slow"]["new"]) == ("ok", 4)
        assert status["slow"]["failures"] == 0
        assert (status["failing"]["last_status"], status["failing"]["failures"]) == ("error", 1)
        assert "HTTP 500" in status["failing"]["last_error"]
        assert store.count_pending() == 0  # run_once scores what it collected
        assert store.due_sources(NOW) == []


# -- crash safety with a scripted collector ----------------------------------------------------


class ScriptConfig(PluginConfig):
    script: str


class ScriptedCollector:
    """Yields pages of Acme mentions as its config's script says; records the cursor given."""

    kind: ClassVar[str] = "fake"
    Config: ClassVar[type[PluginConfig]] = ScriptConfig
    cursors: ClassVar[list[Cursor | None]] = []

    def __init__(self, config: ScriptConfig, ctx: CollectorContext) -> None:
        self.script = config.script
        self.ctx = ctx

    def page(self, n: int, likes: int | None = None) -> list[Mention]:
        return [
            Mention(
                source=self.kind,
                source_name=self.ctx.source_name,
                native_id=f"p{n}-{i}",
                url=f"https://fake.example/{n}/{i}",
                text=f"Acme page {n} item {i}",
                likes=likes,
                language="en",
                published_at=NOW - timedelta(hours=n),
            )
            for i in range(2)
        ]

    def collect(self, cursor: Cursor | None) -> Iterator[Batch]:
        type(self).cursors.append(cursor)
        if self.script == "304":
            yield Batch([], not_modified=True)
            return
        if self.script == "304-then-new":
            yield Batch([], not_modified=True)
            yield Batch(self.page(1), {"page": 1})
            return
        yield Batch(self.page(1), {"page": 1})
        if self.script == "crash":
            self.page(2)  # fetched, but the process dies before handing it over
            raise RuntimeError("collector crashed after page 1")
        if self.script == "poison":  # page 2 cannot be stored: the whole page rolls back
            # likes too large for an SQLite INTEGER: binding fails inside the transaction
            yield Batch([*self.page(2), *self.page(3, likes=2**70)], {"page": 3})
        yield Batch(self.page(4), {"page": 4})


@pytest.fixture
def fake_kind(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedCollector]:
    real_load = registry.load

    def load(group: str, name: str) -> Any:
        if group == registry.COLLECTORS and name == "fake":
            return ScriptedCollector
        return real_load(group, name)

    monkeypatch.setattr(registry, "load", load)
    monkeypatch.setattr(ScriptedCollector, "cursors", [])
    return ScriptedCollector


@pytest.mark.parametrize(
    ("script", "error", "fetched"),
    [("crash", "RuntimeError: collector crashed", 2), ("poison", "OverflowError", 6)],
)
def test_a_crash_mid_run_keeps_the_pages_already_stored(
    tmp_path: Path, fake_kind: type[ScriptedCollector], script: str, error: str, fetched: int
) -> None:
    rt = make_runtime(tmp_path, source("scripted", kind="fake", script=script))
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["scripted"])

        assert outcome.status == "error"
        assert (outcome.error or "").startswith(error)
        assert (outcome.fetched, outcome.new) == (fetched, 2)
        assert sorted(stored(store)) == ["p1-0", "p1-1"]  # page 1 only, nothing of page 2
        state = store.source_state("scripted")
        assert state is not None
        assert state.cursor == {"page": 1}  # the cursor never runs ahead of the data
        assert (state.failures, state.last_error) == (1, outcome.error)
        run = last_run(store, "scripted")
        assert (run["status"], run["new"]) == ("error", 2)

        collect_source(store, rt, rt.sources["scripted"])
    assert fake_kind.cursors == [None, {"page": 1}]  # the next run resumes after page 1


@pytest.mark.parametrize(
    ("script", "status", "new"), [("304", "not_modified", 0), ("304-then-new", "ok", 2)]
)
def test_not_modified_only_when_no_page_had_content(
    tmp_path: Path, fake_kind: type[ScriptedCollector], script: str, status: str, new: int
) -> None:
    rt = make_runtime(tmp_path, source("scripted", kind="fake", script=script))
    with opened(rt) as store:
        outcome = collect_source(store, rt, rt.sources["scripted"])
        assert (outcome.status, outcome.new) == (status, new)
        assert last_run(store, "scripted")["status"] == status


def test_a_lone_surrogate_is_stored_as_a_replacement_character(tmp_path: Path) -> None:
    """JSON APIs can send "\\ud800": one such item must not make its page unstorable."""
    from kuulo.normalise import prepare

    mention = Mention(
        source="rss",
        source_name="s",
        native_id="id-\ud800",
        url="https://x.example/1",
        text="Acme \ud800 broke",
        raw={"title": "\udc00"},
    )
    prepared = prepare(mention, [])
    assert prepared.text == "Acme \ufffd broke"
    assert prepared.mention.native_id == "id-\ufffd"
    with open_store(tmp_path / "k.db") as store:
        store.sync_sources([("s", "rss")], NOW)
        counts = store.save_batch("s", [prepared], None, NOW)
        (raw,) = store.db.execute("SELECT raw FROM mentions").fetchone()
    assert counts.new == 1
    assert json.loads(raw) == {"title": "\udc00"}  # kept, as a JSON escape
