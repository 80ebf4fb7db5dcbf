"""The stored ``hidden`` flag and the per-hour count tables (``kuulo/store/summaries.py``).

After random sequences of the store's own writes, every summarised answer must equal the raw
answer of the same read (the pre-summary SQL, reached by turning the summaries off), the
summary tables must equal a recount from the rows, and ``hidden`` must follow the block rules
(recomputed here in Python). Real SQLite files throughout.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuulo.model import Mention, Score
from kuulo.normalise import Prepared, content_hash
from kuulo.store import MentionFilter, SqliteStore, open_store, summaries
from kuulo.store import inbox as inbox_module
from kuulo.store import insights as insights_module
from kuulo.store import queries as queries_module
from kuulo.store.inbox import InboxFilter
from kuulo.store.migrations import migrations
from tests.kuulo.store.test_query_plans import INDEXED, full_scans, plans

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SOURCES = ("news", "blog")
BRANDS = ("Acme", "Globex")
AUTHORS = ("ann", "bob", "cy", None)
HOSTS = ("a.example", "spam.example", "m.spam.example:8080", "ok.example/spam.example", "B.example")
STATUSES = ("new", "handled", "replied", "ignored")
LABELS = ("negative", "neutral", "positive", "unscored")
LANGUAGES = ("en", "fi", None)


# -- writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    native: int
    source: str
    minutes: int  # before NOW
    author: str | None
    handle: bool
    followers: int | None
    host: str
    language: str | None
    brands: tuple[str, ...]
    text: int  # a new text (or host) is a new version of the same mention


def prepared(i: Item) -> Prepared:
    text = f"{' '.join(i.brands)} said thing {i.text}"
    url = f"https://{i.host}/{i.native}"
    m = Mention(
        source="rss",
        source_name=i.source,
        native_id=str(i.native),
        url=url,
        text=text,
        author_handle=i.author if i.handle else None,
        author_name=None if i.handle else i.author,
        author_followers=i.followers,
        published_at=NOW - timedelta(minutes=i.minutes),
    )
    return Prepared(m, None, text, i.language, content_hash(None, text, url), i.brands)


items = st.builds(
    Item,
    native=st.integers(0, 29),
    source=st.sampled_from(SOURCES),
    # most within a few hours, so that windows cut through the data; some over three days
    minutes=st.one_of(*[st.integers(-90, 6 * 60)] * 2, st.integers(-90, 3 * 24 * 60)),
    author=st.sampled_from(AUTHORS),
    handle=st.booleans(),
    followers=st.sampled_from((None, 0, 10, 10, 500)),
    host=st.sampled_from(HOSTS),
    language=st.sampled_from(LANGUAGES),
    brands=st.lists(st.sampled_from(BRANDS), max_size=2, unique=True).map(tuple),
    text=st.integers(0, 2),
)
ids = st.lists(st.integers(0, 29), min_size=1, max_size=8)
writes = st.one_of(
    st.tuples(st.just("save"), st.lists(items, min_size=1, max_size=10)),
    st.tuples(st.just("score"), st.lists(st.sampled_from(LABELS), min_size=1, max_size=8)),
    st.tuples(st.just("reset"), st.booleans()),
    st.tuples(st.just("status"), st.tuples(ids, st.sampled_from(STATUSES))),
    st.tuples(st.just("assign"), ids),
    st.tuples(st.just("block"), st.tuples(st.sampled_from(("author", "site")), st.integers(0, 2))),
    st.tuples(
        st.just("unblock"), st.tuples(st.sampled_from(("author", "site")), st.integers(0, 2))
    ),
    st.tuples(st.just("delete"), st.integers(0, 29)),
)
BLOCK_VALUES = {"author": ("ann", "bob", "nobody"), "site": ("spam.example", "b.example", "x.org")}


def keys(natives: list[int]) -> list[str]:
    return [f"{s}:{n}" for n in natives for s in SOURCES]


def apply(store: SqliteStore, op: str, arg: Any) -> None:
    if op == "save":
        for source in SOURCES:
            batch = [prepared(i) for i in arg if i.source == source]
            store.save_batch(source, batch, None, NOW)
    elif op == "score":
        pending = store.pending_scores(len(arg))
        scores = [(p, Score(lb, 0.0, "m", "1")) for p, lb in zip(pending, arg, strict=False)]
        store.save_scores(scores, NOW)
    elif op == "reset":
        store.reset_scores("m", "2", everything=arg)
    elif op == "status":
        store.set_status(keys(arg[0]), arg[1], "kim", NOW)
    elif op == "assign":
        store.assign(keys(arg), "kim", "kim", NOW)
    elif op in ("block", "unblock"):
        kind, n = arg
        getattr(store, op)(kind, BLOCK_VALUES[kind][n], "kim", NOW)
    else:  # not a store write today, but the triggers must keep the counts through it
        with store.write() as conn:
            conn.execute("DELETE FROM mentions WHERE id IN (?, ?)", keys([arg]))


@contextmanager
def fresh_store() -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "k.db") as store:
        assert isinstance(store, SqliteStore)
        store.sync_sources([(s, "rss") for s in SOURCES], NOW)
        yield store


# -- what must hold -------------------------------------------------------------------------


def expected_hidden(store: SqliteStore) -> dict[str, int]:
    """The block rules in Python: the author (handle, else name), or the URL's host (any port)
    being the blocked site or a subdomain of it."""
    blocks = store.db.execute("SELECT kind, value FROM blocks").fetchall()
    authors = {v for k, v in blocks if k == "author"}
    sites = {v for k, v in blocks if k == "site"}
    hidden = {}
    for key, handle, name, url in store.db.execute(
        "SELECT id, author_handle, author_name, url FROM mentions"
    ):
        host = url.split("//", 1)[1].split("/", 1)[0].lower()
        site = any(f".{host}:".find(f".{s}:") >= 0 for s in sites)
        hidden[key] = int((handle if handle is not None else name) in authors or site)
    return hidden


def summary_rows(store: SqliteStore, table: str) -> set[tuple[Any, ...]]:
    rows = store.db.execute(f"SELECT * FROM {table} WHERE n != 0").fetchall()
    return set(rows)


def recounted(store: SqliteStore) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The summaries as a rebuild from the rows computes them (in a rolled-back write)."""
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        summaries.rebuild(conn)
        return summary_rows(store, summaries.HOURLY), summary_rows(store, summaries.BRAND_HOURLY)
    finally:
        conn.execute("ROLLBACK")


@contextmanager
def raw_reads() -> Iterator[None]:
    """Every read on its raw (pre-summary) SQL: the reference answers."""
    with pytest.MonkeyPatch.context() as patch:
        for module, name in (
            (inbox_module, "inbox_summary"),
            (insights_module, "inbox_summary"),
            (queries_module, "summary_filter"),
        ):
            patch.setattr(module, name, lambda *a, **k: None)
        patch.setattr(inbox_module, "brand_driven", lambda f: False)
        yield


@contextmanager
def walking() -> Iterator[None]:
    """top_authors walks by reach whenever it can (not only past WALK_MIN_MENTIONS)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(insights_module, "WALK_MIN_MENTIONS", 0)
        yield


def moment(minutes: int | None) -> datetime | None:
    return None if minutes is None else NOW - timedelta(minutes=minutes, seconds=minutes % 7)


def window(a: int | None, b: int | None) -> tuple[datetime | None, datetime | None]:
    """Two optional points (minutes before NOW), the earlier one as ``since``."""
    if a is not None and b is not None:
        a, b = max(a, b), min(a, b)
    return moment(a), moment(b)


point = st.one_of(st.none(), st.integers(-120, 7 * 60), st.integers(-120, 3 * 24 * 60))
windows = st.builds(window, point, point)
filters = st.builds(
    lambda window, brand, sources, sentiments, languages, statuses, blocked: InboxFilter(
        MentionFilter(
            brands=brand,
            sources=sources,
            sentiments=sentiments,
            languages=languages,
            since=window[0],
            until=window[1],
        ),
        statuses=statuses,
        blocked=blocked,
    ),
    windows,
    st.sampled_from(((), (), ("Acme",), ("Globex",))),
    st.sampled_from(((), (), ("news",), ("blog", "news"))),
    st.sampled_from(((), (), ("negative",), ("neutral", "positive"), ("unscored",))),
    st.sampled_from(((), (), ("en",), ("fi",))),
    st.sampled_from(((), (), ("new",), ("handled", "new"), ("replied",))),
    st.sampled_from((False, False, True)),
)


def raw_brand_sentiment(
    store: SqliteStore, brands: list[str], since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """brand_sentiment's SQL before the summaries (with the stored flag for the blocks)."""
    conditions, params = [f"x.brand IN ({', '.join('?' * len(brands))})"], list(brands)
    for op, value in ((">=", since), ("<", until)):
        if value:
            conditions.append(f"x.ts {op} ?")
            params.append(value.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return store._inbox_rows(
        "SELECT x.brand, coalesce(m.sentiment, 'pending') AS sentiment, count(*) AS mentions"
        " FROM mention_brands x JOIN mentions m ON m.id = x.mention_id"
        f" WHERE {' AND '.join(conditions)} AND m.hidden = 0"
        " GROUP BY x.brand, +m.sentiment ORDER BY x.brand, +m.sentiment",
        params,
    )


def answers(store: SqliteStore, f: InboxFilter, limit: int, *, raw: bool = False) -> dict[str, Any]:
    mf = f.mentions
    brands = list(BRANDS) if not mf.brands else list(mf.brands) * 2  # a repeated brand too
    shares = (
        raw_brand_sentiment(store, brands, mf.since, mf.until)
        if raw
        else store.brand_sentiment(brands, mf.since, mf.until)
    )
    return {
        "count_inbox": store.count_inbox(f),
        "sentiment_counts": list(store.sentiment_counts(f).items()),
        "hourly": store.sentiment_over_time(f, "hour"),
        "daily": store.sentiment_over_time(f, "day"),
        "by_source": store.by_source(f),
        "top_authors": store.top_authors(f, limit=limit),
        "brand_sentiment": shares,
        "count_mentions": store.count_mentions(mf),
        "daily_sentiment": store.daily_sentiment(mf),
        "inbox": sorted((r["ts"], r["id"]) for r in store.inbox(f, limit=10_000)),
        "inbox_order": [r["ts"] for r in store.inbox(f, limit=10_000)],
        "export": [r["id"] for r in store.inbox_export_rows(f)],
    }


# -- the property ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(items, min_size=5, max_size=40),
    st.lists(st.sampled_from(LABELS), max_size=30),
    st.lists(writes, min_size=1, max_size=12),
    st.lists(filters, min_size=1, max_size=4),
    st.integers(1, 4),
)
def test_summaries_answer_every_read_as_the_raw_rows_do(
    first: list[Item],
    labels: list[str],
    sequence: list[tuple[str, Any]],
    reads: list[InboxFilter],
    limit: int,
) -> None:
    with fresh_store() as store:
        blocks = [("block", ("author", 0)), ("block", ("site", 0))]  # a new version may hit
        for op, arg in [*blocks, ("save", first), ("score", labels), *sequence]:
            apply(store, op, arg)
        hidden = dict(store.db.execute("SELECT id, hidden FROM mentions").fetchall())
        assert hidden == expected_hidden(store)
        assert (
            summary_rows(store, summaries.HOURLY),
            summary_rows(store, summaries.BRAND_HOURLY),
        ) == recounted(store)
        with walking():
            for f in reads:
                fast = answers(store, f, limit)
                with raw_reads():
                    assert fast == answers(store, f, limit, raw=True), f


# -- split, migration, plans ----------------------------------------------------------------


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(f"2026-11-{text}").replace(tzinfo=UTC)


SPLITS: list[tuple[str | None, str | None, bool, list[tuple[str, str | None, str | None]]]] = [
    ("25T08:00", "25T11:00", True, [("hour", "25T08:00", "25T11:00")]),
    ("25T08:00:00.500000", "25T11:00", True, [("hour", "25T08:00", "25T11:00")]),  # seconds
    ("25T08:10", "25T11:05", True, [
        ("raw", "25T08:10", "25T09:00"), ("raw", "25T11:00", "25T11:05"),
        ("hour", "25T09:00", "25T11:00"),
    ]),
    ("25T08:10", "25T08:50", True, [("raw", "25T08:10", "25T08:50")]),
    ("25T08:10", "25T09:00", True, [("raw", "25T08:10", "25T09:00")]),
    ("23T08:10", "25T11:05", True, [
        ("raw", "23T08:10", "23T09:00"), ("raw", "25T11:00", "25T11:05"),
        ("hour", "23T09:00", "24T00:00"), ("hour", "25T00:00", "25T11:00"),
        ("day", "24T00:00", "25T00:00"),
    ]),
    ("23T08:10", "25T11:05", False, [
        ("raw", "23T08:10", "23T09:00"), ("raw", "25T11:00", "25T11:05"),
        ("hour", "23T09:00", "25T11:00"),
    ]),
    ("23T08:10", None, True, [
        ("raw", "23T08:10", "23T09:00"), ("hour", "23T09:00", "24T00:00"),
        ("day", "24T00:00", None),
    ]),
    (None, "25T11:05", True, [
        ("raw", "25T11:00", "25T11:05"), ("hour", "25T00:00", "25T11:00"),
        ("day", None, "25T00:00"),
    ]),
    (None, None, True, [("day", None, None)]),
]  # fmt: skip


@pytest.mark.parametrize(("since", "until", "days", "parts"), SPLITS)
def test_a_window_splits_into_days_hours_and_raw_edges(
    since: str | None, until: str | None, days: bool, parts: list[tuple[str, Any, Any]]
) -> None:
    got = summaries.split_window(at(since), at(until), days=days)
    expected = [(kind, at(a), at(b)) for kind, a, b in parts]
    assert [(k, cut(a), cut(b)) for k, a, b in got] == expected


def cut(moment: datetime | None) -> datetime | None:
    """An edge keeps the caller's time (here with its half second), as the raw read cuts it."""
    return moment and moment.replace(microsecond=0)


def test_migration_backfills_hidden_and_the_counts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "old.db")
    with store.write():
        migrations.apply(store.db, stop_before="m007_hidden_and_hourly_counts")
    store.sync_sources([(s, "rss") for s in SOURCES], NOW)
    batch = [
        Item(n, "news", n * 50, ("ann", "bob")[n % 2], n % 3 == 0, 10 * n, HOSTS[n % 5], "en",
             BRANDS[: n % 3], 0)
        for n in range(10)
    ]  # fmt: skip
    store.save_batch("news", [prepared(i) for i in batch], None, NOW)
    pending = store.pending_scores(6)
    store.save_scores([(p, Score("negative", -1.0, "m", "1")) for p in pending], NOW)
    store.set_status(["news:1", "news:2"], "handled", "kim", NOW)
    with store.write() as conn:  # blocks as m004 stored them (block() needs m007)
        conn.execute("INSERT INTO blocks VALUES ('author', 'bob', 'x', NULL)")
        conn.execute("INSERT INTO blocks VALUES ('site', 'spam.example', 'x', NULL)")
    store.migrate()
    hidden = dict(store.db.execute("SELECT id, hidden FROM mentions").fetchall())
    assert hidden == expected_hidden(store)
    assert 0 < sum(hidden.values()) < len(hidden)
    assert (
        summary_rows(store, summaries.HOURLY),
        summary_rows(store, summaries.BRAND_HOURLY),
    ) == recounted(store)
    f = InboxFilter(MentionFilter(since=NOW - timedelta(hours=7, minutes=13)))
    fast = answers(store, f, 3)
    with raw_reads():
        assert fast == answers(store, f, 3, raw=True)
    assert fast["count_inbox"] > 0
    store.save_batch(
        "news", [prepared(Item(20, "news", 5, "bob", True, 1, "a.example", "en", (), 0))], None, NOW
    )
    assert store.db.execute("SELECT hidden FROM mentions WHERE id = 'news:20'").fetchone() == (1,)
    store.close()


def test_the_check_catches_a_wrong_count(tmp_path: Path) -> None:
    """The recount comparison above can fail: a summary row off by one is seen."""
    with fresh_store() as store:
        apply(store, "save", [Item(1, "news", 30, "ann", True, 5, "a.example", "en", ("Acme",), 0)])
        assert summary_rows(store, summaries.HOURLY) == recounted(store)[0]
        store.db.execute(f"UPDATE {summaries.HOURLY} SET n = n + 1")
        assert summary_rows(store, summaries.HOURLY) != recounted(store)[0]


SUMMARISED_READS: dict[str, Any] = {
    "count_inbox": lambda s, f: s.count_inbox(f),
    "sentiment_counts": lambda s, f: [s.sentiment_counts(f)],
    "sentiment_over_time": lambda s, f: s.sentiment_over_time(f, "hour"),
    "by_source": lambda s, f: s.by_source(f),
    "count_mentions": lambda s, f: s.count_mentions(f.mentions),
    "daily_sentiment": lambda s, f: s.daily_sentiment(f.mentions),
    "brand_sentiment": lambda s, f: s.brand_sentiment(BRANDS, f.mentions.since, f.mentions.until),
    "top_authors_walk": lambda s, f: s.top_authors(f, limit=3),
    "inbox_brand": lambda s, f: s.inbox(f, limit=50),
    "export_brand": lambda s, f: s.inbox_export_rows(f),
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    with open_store(tmp_path_factory.mktemp("summaries") / "k.db") as store:
        assert isinstance(store, SqliteStore)
        store.sync_sources([(s, "rss") for s in SOURCES], NOW)
        batch = [
            Item(n, SOURCES[n % 2], n * 37, AUTHORS[n % 4], n % 2 == 0, n % 50, HOSTS[n % 5],
                 LANGUAGES[n % 3], BRANDS[: n % 3], 0)
            for n in range(400)
        ]  # fmt: skip
        for source in SOURCES:
            store.save_batch(source, [prepared(i) for i in batch if i.source == source], None, NOW)
        store.block("author", "cy", "kim", NOW)
        store.db.execute("ANALYZE")
        yield store


@pytest.mark.parametrize("brand", [(), ("Acme",)], ids=["all", "brand"])
@pytest.mark.parametrize("read", list(SUMMARISED_READS))
def test_summarised_reads_search_by_index(analysed: SqliteStore, read: str, brand: Any) -> None:
    """Non-aligned windows: the summary by its key, the edge hours through the ts index."""
    f = InboxFilter(
        MentionFilter(brands=brand, since=NOW - timedelta(days=5, minutes=17),
                      until=NOW - timedelta(minutes=29)),
        statuses=("new",),
    )  # fmt: skip
    with walking():
        found = plans(analysed, lambda s: SUMMARISED_READS[read](s, f))
    for sql, details in found:
        assert full_scans(details) == [], f"{read}:\n{sql}\n{details}"
        assert any(d.startswith((*INDEXED, "SEARCH x ")) for d in details), details
        assert not any(d.startswith("SCAN s") for d in details), details
    if read.endswith("_brand") and brand:
        assert not any("TEMP B-TREE FOR ORDER BY" in d for _, ds in found for d in ds)


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (inbox_module.HIDE_AUTHOR, ["ann"], "idx_mentions_author_ts"),
        (inbox_module.UNHIDE, [], "idx_mentions_hidden_ts"),
    ],
    ids=["block_author", "unblock"],
)
def test_blocks_reach_the_rows_they_flip_by_index(
    analysed: SqliteStore, sql: str, params: list[Any], index: str
) -> None:
    """Blocking an author searches its rows; unblocking walks the partial index of hidden rows
    (a scan of that index only: it holds nothing else)."""
    details = [r[3] for r in analysed.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert details[0].startswith(("SEARCH mentions", "SCAN mentions")), details
    assert f"USING INDEX {index}" in details[0], details
