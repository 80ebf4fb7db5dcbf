"""``make bench`` (dashboard part): the latency of every page query at 1,000,000 mentions.

A seeded database (30 days of mentions from 8 sources about 4 brands, ~12% of them linked to two
brands, a sentiment and language mix, authors with followers, some staff triage, a few blocks)
is built once and cached at ``data/bench/dashboard-1m.db``; a rerun reuses it while its seed key
(``SEED_VERSION`` and row count, kept in the table ``bench_seed``) matches and no migration is
pending, else it is rebuilt. Delete the file to force a rebuild. Seeding is bench-only: plain
``executemany`` in a few big transactions on the store's own connection, with the secondary
indexes, the FTS insert trigger and the summary triggers set aside during the load and rebuilt
once at the end (faster than maintaining them row by row: ``summaries.rebuild`` recomputes the
``hidden`` flags and the per-hour counts), then ``ANALYZE``.

Each page query runs with the filters its page uses by default (and with a brand filter), on a
read-only store as the dashboard opens it, once to warm up and then ``REPEAT`` times; p50/p95 in
milliseconds. Target: p95 <= 300 ms per query (reliability.md L3). The seeded clock ``NOW`` is
fixed, so every run asks the same windows of the same data.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from kuulo.errors import StoreError
from kuulo.spikes import episodes
from kuulo.store import MentionFilter, SqliteStore, open_store, summaries
from kuulo.store.inbox import InboxFilter
from kuulo.store.migrations import migrations
from kuulo.terms import top_terms

SEED_VERSION = 3  # 3: m007's hidden flag and per-hour/per-day summaries
ROWS = 1_000_000
REPEAT = 20
MIN_RUNS = 5
BUDGET_S = 8.0  # per query: a slow one stops after MIN_RUNS runs past this
TARGET_P95_MS = 300.0
CACHE = Path("data/bench/dashboard-1m.db")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAYS = 30
BRANDS: tuple[str, ...] = ("Nordlight", "Aurora", "Polaris", "Borealis")
_BRAND_WEIGHTS = (45, 25, 18, 12)
# (source_name, kind, share of mentions)
SOURCES: tuple[tuple[str, str, int], ...] = (
    ("x", "x", 30),
    ("reddit", "reddit", 18),
    ("news", "rss", 14),
    ("google_news", "google_news", 12),
    ("hackernews", "hackernews", 8),
    ("blogs", "rss", 8),
    ("forum", "rss", 6),
    ("reviews", "import", 4),
)
_SOCIAL = {"x", "reddit", "hackernews", "forum"}
_SENTIMENTS = ("negative", "neutral", "positive", "unscored", None)
_SENTIMENT_WEIGHTS = (20, 48, 26, 3, 3)
_LANGUAGES = ("en", "fi", "sv", "de", None)
_LANGUAGE_WEIGHTS = (60, 25, 8, 4, 3)
BLOCKED_AUTHOR = "user00042"
BLOCKED_SITE = "spam-news.example"
SEARCH = "refund"  # in ~1.5% of texts

_INSERT_MENTION = (
    "INSERT INTO mentions (id, source, source_name, native_id, url, author_name, author_handle,"
    " author_followers, title, raw_text, text, language, published_at, collected_at, ts,"
    " likes, replies, reposts, quotes, rating, content_hash, version, updated_at, sentiment,"
    " sentiment_score, sentiment_model, sentiment_version, sentiment_reason, scored_at,"
    " sentiment_confidence) VALUES (" + ", ".join("?" * 30) + ")"
)
_ISO = "%Y-%m-%dT%H:%M:%SZ"


# -- seeding --------------------------------------------------------------------------------


def _vocabulary(rnd: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "tu", "ra", "ne", "si", "vo", "pe", "ha", "ju", "ri", "sa"]
    words = {"".join(rnd.choices(syllables, k=rnd.randint(2, 4))) for _ in range(6000)}
    common = "the a is and of to in it for on with this that was my not but very app order"
    return sorted(words) + common.split() * 40


def _rows(rows: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[str, str, str]]]]:
    """(mention row, its mention_brands rows), oldest first."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible bench data, not crypto
    vocab = _vocabulary(rnd)
    authors: list[tuple[str | None, str | None, int | None]] = [
        (f"Person {i}", f"user{i:05d}", int(rnd.paretovariate(1.1) * 40)) for i in range(40_000)
    ]
    sites = [f"site{i:03d}.example" for i in range(200)] + [BLOCKED_SITE]
    reasons = ["words: great, love", "words: broken, slow", "no strong words", "stars: 2"]
    start = (NOW - timedelta(days=DAYS)).timestamp()
    span = DAYS * 86400.0
    stamps = sorted(start + rnd.random() * span for _ in range(rows))
    source_pick = rnd.choices(range(len(SOURCES)), [w for *_, w in SOURCES], k=rows)
    brand_pick = rnd.choices(range(len(BRANDS)), _BRAND_WEIGHTS, k=rows)
    sentiment_pick = rnd.choices(_SENTIMENTS, _SENTIMENT_WEIGHTS, k=rows)
    language_pick = rnd.choices(_LANGUAGES, _LANGUAGE_WEIGHTS, k=rows)
    random_, randint, choices, strftime, gmtime = (
        rnd.random, rnd.randint, rnd.choices, time.strftime, time.gmtime,
    )  # fmt: skip
    for i in range(rows):
        name, kind, _ = SOURCES[source_pick[i]]
        ts = strftime(_ISO, gmtime(stamps[i]))
        collected = strftime(_ISO, gmtime(stamps[i] + 120))
        key = f"{name}:{i}"
        brand = BRANDS[brand_pick[i]]
        words = choices(vocab, k=randint(8, 24))
        if random_() < 0.015:
            words[randint(0, len(words) - 1)] = SEARCH
        text = f"{brand} " + " ".join(words)
        author_name, handle, followers = authors[int(random_() ** 3 * len(authors))]
        if name in _SOCIAL:
            url = f"https://{name}.example/{handle}/{i}"
            title = None
        else:
            handle, followers = None, None
            url = f"https://{sites[randint(0, len(sites) - 1)]}/a/{i}"
            title = " ".join(words[:6]) if name != "reviews" else None
            if random_() < 0.1:
                author_name = None
        sentiment = sentiment_pick[i]
        scored = sentiment is not None
        score = round(random_() * 2 - 1, 3) if scored else None
        row = (
            key, kind, name, str(i), url, author_name, handle, followers, title, text, text,
            language_pick[i], ts, collected, ts, randint(0, 50), randint(0, 9), randint(0, 5),
            0, float(randint(1, 5)) if name == "reviews" else None, f"{i:016x}", 1, collected,
            sentiment, score, "default" if scored else None, "1" if scored else None,
            reasons[i % 4] if scored else None, collected if scored else None,
            round(random_(), 2) if scored else None,
        )  # fmt: skip
        brands = [(key, brand, ts)]
        if random_() < 0.12:
            other = BRANDS[(brand_pick[i] + randint(1, len(BRANDS) - 1)) % len(BRANDS)]
            brands.append((key, other, ts))
        yield row, brands


def _set_aside(conn: Any, fts: str) -> list[str]:
    """Drop the secondary indexes (and, for ``rebuild``, the FTS insert trigger) of the bulk
    tables; returns the SQL that recreates them."""
    kept = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ("
        "(type = 'index' AND tbl_name IN ('mentions', 'mention_brands', 'mention_triage'))"
        " OR (type = 'trigger' AND name = 'mentions_fts_ai' AND ?))",
        [fts == "rebuild"],
    ).fetchall()
    for kind, name, _ in kept:
        conn.execute(f"DROP {kind.upper()} {name}")
    return [sql for _, _, sql in kept]


def seed(path: Path, rows: int = ROWS, *, seed: int = 6, fts: str = "rebuild") -> float:
    """Create and fill a fresh database at ``path``; returns the seconds it took.

    ``fts``: ``rebuild`` (trigger off, one ``'rebuild'`` at the end) or ``triggers`` (the FTS
    row is written by the insert trigger, as in production).
    """
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with open_store(path) as store:
        assert isinstance(store, SqliteStore)  # noqa: S101 - seeding writes the SQLite file
        conn = store.db.conn
        conn.execute("PRAGMA journal_mode = OFF")  # a throwaway file: no rollback journal
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        store.sync_sources([(name, kind) for name, kind, _ in SOURCES], NOW)
        with store.write():
            recreate = _set_aside(conn, fts)
            summaries.drop_triggers(conn)
        generated = _rows(rows, seed)
        while chunk := list(islice(generated, 100_000)):
            with store.write():
                conn.executemany(_INSERT_MENTION, [row for row, _ in chunk])
                conn.executemany(
                    "INSERT INTO mention_brands (mention_id, brand, ts) VALUES (?, ?, ?)",
                    [link for _, links in chunk for link in links],
                )
        with store.write():
            _staff_work(conn, rows, seed)
            for sql in recreate:
                conn.execute(sql)
            if fts == "rebuild":
                conn.execute("INSERT INTO mentions_fts(mentions_fts) VALUES ('rebuild')")
            summaries.rebuild(conn)
            summaries.create_triggers(conn)
            conn.execute("CREATE TABLE bench_seed (key TEXT NOT NULL)")
            conn.execute("INSERT INTO bench_seed VALUES (?)", [seed_key(rows)])
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")  # as the app runs it
    return time.perf_counter() - started


def _staff_work(conn: Any, rows: int, seed: int) -> None:
    """Triage on ~5% of mentions (tags, notes, corrections on fewer) and one block per kind."""
    rnd = random.Random(seed + 1)  # noqa: S311 - reproducible bench data
    ids = [
        r[0] for r in conn.execute("SELECT id FROM mentions WHERE rowid % 20 = 0 ORDER BY rowid")
    ]
    at = NOW.strftime(_ISO)
    statuses = rnd.choices(("handled", "replied", "ignored", "new"), (60, 20, 15, 5), k=len(ids))
    conn.executemany(
        "INSERT INTO mention_triage (mention_id, status, assignee, updated_at, updated_by)"
        " VALUES (?, ?, ?, ?, 'bench')",
        [(i, s, f"agent{n % 7}", at) for n, (i, s) in enumerate(zip(ids, statuses, strict=True))],
    )
    conn.executemany(
        "INSERT INTO mention_tags (mention_id, tag, added_at) VALUES (?, ?, ?)",
        [(i, ("refund", "bug", "praise")[n % 3], at) for n, i in enumerate(ids[::5])],
    )
    conn.executemany(
        "INSERT INTO mention_notes (mention_id, body, author, created_at) VALUES (?, ?, ?, ?)",
        [(i, "called the customer back", "agent1", at) for i in ids[::15]],
    )
    conn.executemany(
        "INSERT INTO sentiment_corrections (mention_id, mention_version, label, corrected_at)"
        " VALUES (?, 1, 'negative', ?)",
        [(i, at) for i in ids[::25]],
    )
    conn.executemany(
        "INSERT INTO blocks (kind, value, created_at) VALUES (?, ?, ?)",
        [("author", BLOCKED_AUTHOR, at), ("site", BLOCKED_SITE, at)],
    )


def seed_key(rows: int) -> str:
    return f"seed-v{SEED_VERSION}-rows{rows}"


def seeded_database(path: Path = CACHE, rows: int = ROWS) -> float | None:
    """Make sure ``path`` holds the seeded database; the seconds seeding took, None if cached."""
    if path.exists() and _cached_key(path) == seed_key(rows):
        return None
    return seed(path, rows)


def _cached_key(path: Path) -> str | None:
    try:
        with open_store(path, read_only=True) as store:
            assert isinstance(store, SqliteStore)  # noqa: S101 - the bench reads the SQLite file
            if migrations.pending(store.db):
                return None  # the schema moved on since the file was seeded
            row = store.db.execute("SELECT key FROM bench_seed").fetchone()
    except (StoreError, sqlite3.Error):  # an unreadable cache is simply rebuilt
        return None
    return str(row[0]) if row else None


# -- the page queries -----------------------------------------------------------------------

Query = Callable[[SqliteStore], object]


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def page_queries(now: datetime = NOW, brand: str = BRANDS[1]) -> dict[str, Query]:
    """Every store read the dashboard pages make, with each page's default filters, plus the
    same with one brand chosen (``*_brand``)."""
    inbox_window = MentionFilter(since=_hour(now - timedelta(days=30)))  # Inbox: 30 days
    inbox = InboxFilter(inbox_window, statuses=("new",))
    end = _hour(now) + timedelta(hours=1)  # Overview: 7 days, and the 7 before
    week = InboxFilter(MentionFilter(since=end - timedelta(days=7), until=end))
    before = InboxFilter(
        MentionFilter(since=end - timedelta(days=14), until=end - timedelta(days=7))
    )
    month = InboxFilter(MentionFilter(since=end - timedelta(days=30), until=end))
    export = InboxFilter(inbox_window)  # Export: 30 days, every status
    negative = ("negative",)

    def branded(f: InboxFilter) -> InboxFilter:
        return replace(f, mentions=replace(f.mentions, brands=(brand,)))

    def searched(f: InboxFilter, text: str = SEARCH) -> InboxFilter:
        return replace(f, mentions=replace(f.mentions, search=text))

    def negatives(f: InboxFilter) -> InboxFilter:
        return replace(f, mentions=replace(f.mentions, sentiments=negative))

    queries: dict[str, Query] = {
        "filter_options": lambda s: (s.distinct_values("brand"), s.distinct_values("source_name")),
        "inbox_page": lambda s: s.inbox(inbox, limit=200),
        "inbox_count": lambda s: s.count_inbox(inbox),
        "inbox_sentiment_counts": lambda s: s.sentiment_counts(inbox),
        "inbox_daily": lambda s: s.sentiment_over_time(inbox, "day"),
        "inbox_search": lambda s: s.inbox(searched(inbox), limit=200),
        "inbox_search_count": lambda s: s.count_inbox(searched(inbox)),
        "inbox_search_common": lambda s: s.inbox(searched(inbox, BRANDS[0]), limit=200),
        "inbox_search_common_count": lambda s: s.count_inbox(searched(inbox, BRANDS[0])),
        "inbox_assignees": lambda s: s.assignees(),
        "overview_counts_7d": lambda s: s.sentiment_counts(week),
        "overview_counts_prev_7d": lambda s: s.sentiment_counts(before),
        "overview_over_time_7d": lambda s: s.sentiment_over_time(week, "day"),
        "overview_over_time_30d": lambda s: s.sentiment_over_time(month, "day"),
        "overview_by_source_7d": lambda s: s.by_source(week),
        "overview_by_source_30d": lambda s: s.by_source(month),
        "top_authors_7d": lambda s: s.top_authors(week, limit=10),
        "top_authors_30d": lambda s: s.top_authors(month, limit=10),
        "overview_negative_7d": lambda s: s.inbox(negatives(week), limit=15),
        "overview_themes_7d": lambda s: top_terms(
            f"{r['title'] or ''} {r['text'] or ''}" for r in s.inbox(negatives(week), limit=500)
        ),
        "overview_spikes_30d": lambda s: [
            episodes(
                s.hourly_brand_counts(b, _hour(now) - timedelta(days=37), _hour(now)),
                _hour(now) - timedelta(days=30),
                _hour(now),
                timedelta(days=7),
                3.5,
                10,
            )
            for b in BRANDS
        ],
        "competitors_share_of_voice": lambda s: s.brand_sentiment(
            list(BRANDS), _hour(now) - timedelta(days=30)
        ),
        "sources_status": lambda s: s.source_status(),
        "export_count": lambda s: s.count_inbox(export),
        "export_first_1000": lambda s: list(islice(s.inbox_export_rows(export), 1000)),
    }
    for name, f in (
        ("inbox_page", inbox),
        ("inbox_count", inbox),
        ("inbox_sentiment_counts", inbox),
        ("overview_counts_7d", week),
        ("overview_by_source_7d", week),
        ("top_authors_7d", week),
        ("overview_negative_7d", week),
        ("export_first_1000", export),
    ):
        queries[f"{name}_brand"] = _with_filter(queries[name], branded(f), name)
    return queries


def _with_filter(query: Query, f: InboxFilter, name: str) -> Query:
    """The same page read as ``name`` with another filter (the brand-filtered twin)."""
    reads: dict[str, Query] = {
        "inbox_page": lambda s: s.inbox(f, limit=200),
        "inbox_count": lambda s: s.count_inbox(f),
        "inbox_sentiment_counts": lambda s: s.sentiment_counts(f),
        "overview_counts_7d": lambda s: s.sentiment_counts(f),
        "overview_by_source_7d": lambda s: s.by_source(f),
        "top_authors_7d": lambda s: s.top_authors(f, limit=10),
        "overview_negative_7d": lambda s: s.inbox(
            replace(f, mentions=replace(f.mentions, sentiments=("negative",))), limit=15
        ),
        "export_first_1000": lambda s: list(islice(s.inbox_export_rows(f), 1000)),
    }
    return reads.get(name, query)


def time_queries(
    store: SqliteStore, queries: dict[str, Query], repeat: int, budget_s: float = BUDGET_S
) -> dict[str, Any]:
    """``{name: {p50_ms, p95_ms, runs}}``: one warm-up call, then ``repeat`` timed calls each;
    a query slower than ``budget_s`` in all stops after ``MIN_RUNS`` (``runs`` says so)."""
    figures: dict[str, Any] = {}
    for name, query in queries.items():
        query(store)
        samples: list[float] = []
        spent = 0.0
        while len(samples) < repeat and (len(samples) < MIN_RUNS or spent < budget_s):
            started = time.perf_counter()
            query(store)
            elapsed = time.perf_counter() - started
            spent += elapsed
            samples.append(elapsed * 1000)
        figures[name] = {
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": _p95(samples),
            "runs": len(samples),
        }
    return figures


def _p95(samples: list[float]) -> float:
    if len(samples) < 2:
        return round(samples[0], 2)
    return round(statistics.quantiles(samples, n=100, method="inclusive")[94], 2)


def measure_dashboard(path: Path = CACHE, rows: int = ROWS, repeat: int = REPEAT) -> dict[str, Any]:
    seed_s = seeded_database(path, rows)
    with open_store(path, read_only=True) as store:  # as the dashboard reads
        assert isinstance(store, SqliteStore)  # noqa: S101 - inbox_export_rows is SQLite's
        queries = time_queries(store, page_queries(), repeat)
    return {
        "rows": rows,
        "seed_s": None if seed_s is None else round(seed_s, 1),
        "repeat": repeat,
        "target_p95_ms": TARGET_P95_MS,
        "queries": queries,
    }


def report(figures: dict[str, Any]) -> list[str]:
    """The printed table: name, p50, p95, target met."""
    seeded = figures["seed_s"]
    how = "reused cached database" if seeded is None else f"seeded in {seeded:.1f} s"
    lines = [
        f"dashboard benchmark: {figures['rows']:,} mentions ({how}), "
        f"up to {figures['repeat']} runs per query after a warm-up",
        f"  {'query':<32} {'p50 ms':>9} {'p95 ms':>9} {'runs':>5}  p95 <= {TARGET_P95_MS:.0f} ms",
    ]
    for name, q in figures["queries"].items():
        met = "yes" if q["p95_ms"] <= TARGET_P95_MS else "NO"
        lines.append(f"  {name:<32} {q['p50_ms']:>9.1f} {q['p95_ms']:>9.1f} {q['runs']:>5}  {met}")
    return lines


def main() -> None:
    from kuulo.bench import write_results

    figures = measure_dashboard()
    for line in report(figures):
        print(line)  # noqa: T201
    write_results("dashboard", figures)


if __name__ == "__main__":
    main()
