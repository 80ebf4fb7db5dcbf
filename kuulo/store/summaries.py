"""Per-hour and per-day count tables kept up to date on write, and the stored ``hidden`` flag
(migration ``m007``).

At 1M mentions a 30-day count read every row in the window (seconds). Instead, SQLite
triggers keep small tables of counts per UTC hour and per UTC day and dimension:

- ``mention_hourly`` / ``mention_daily``: (at, source_name, sentiment, language, status,
  hidden) -> n, ``at`` being the hour (``2026-11-25T08``) or the day (``2026-11-25``) of ``ts``;
- ``mention_brand_hourly`` / ``mention_brand_daily``: the same per brand, one count per
  ``mention_brands`` link, dated by ``mention_brands.ts`` (the copy of ``mentions.ts`` that
  every write keeps equal to it).

Every change is a +1/-1 upsert of a delta, so the totals stay exact whatever order SQLite fires
the triggers in; a group may fall to ``n = 0`` (readers skip empty groups). A pending label
(``sentiment IS NULL``) and an unknown language are stored as the integer ``0``: the columns
have no type affinity, so ``0`` can never equal a text label. ``status`` is the inbox's
``coalesce(mention_triage.status, 'new')``.

``mentions.hidden`` is 1 when the author (handle, else name) or the site (host or a subdomain,
any port) is blocked: set by a trigger on insert and on a changed URL or author, and by
``block``/``unblock`` for existing rows (``inbox.py``). A read whose filters use only these
dimensions sums whole days and whole hours from the summaries and counts the partial first and
last hour from ``mentions`` through the ts index (:func:`split_window`, :func:`counted_rows`);
any other filter (search, rating, several brands, ...) reads ``mentions`` as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from kuulo.clock import from_iso, to_iso

HOURLY = "mention_hourly"
BRAND_HOURLY = "mention_brand_hourly"
DAILY = "mention_daily"
BRAND_DAILY = "mention_brand_daily"
# (grain, key width: substr(ts, 1, width), table, per-brand table)
GRAINS = (("hour", 13, HOURLY, BRAND_HOURLY), ("day", 10, DAILY, BRAND_DAILY))
_DIMS = "source_name, sentiment, language, status, hidden"


def _table(name: str, *, brand: bool, key: str) -> str:
    brand_column = "brand TEXT NOT NULL," if brand else ""
    return f"""
    CREATE TABLE {name} (
        {brand_column}
        at TEXT NOT NULL,                 -- {key}
        source_name TEXT NOT NULL,
        sentiment NOT NULL,               -- the label; integer 0: pending (no affinity)
        language NOT NULL,                -- the language; integer 0: unknown (no affinity)
        status TEXT NOT NULL,             -- coalesce(mention_triage.status, 'new')
        hidden INTEGER NOT NULL,
        n INTEGER NOT NULL,               -- may reach 0: readers skip empty groups
        PRIMARY KEY ({"brand, " if brand else ""}at, {_DIMS})
    ) WITHOUT ROWID
    """


_TABLES = (
    _table(HOURLY, brand=False, key="substr(ts, 1, 13): 2026-11-25T08 (UTC)"),
    _table(BRAND_HOURLY, brand=True, key="substr(mention_brands.ts, 1, 13)"),
    _table(DAILY, brand=False, key="substr(ts, 1, 10): 2026-11-25 (UTC)"),
    _table(BRAND_DAILY, brand=True, key="substr(mention_brands.ts, 1, 10)"),
)
INDEXES = (
    # the inbox's "blocked" view, and unblock's re-check of hidden rows
    "CREATE INDEX idx_mentions_hidden_ts ON mentions(ts) WHERE hidden = 1",
    # top_authors: walked by reach, then each candidate's mentions in the window
    "CREATE INDEX idx_mentions_followers ON mentions(author_followers)"
    " WHERE author_followers IS NOT NULL",
    "CREATE INDEX idx_mentions_author_ts ON mentions(coalesce(author_handle, author_name), ts)",
)

AUTHOR = "coalesce({m}.author_handle, {m}.author_name)"
_AUTHOR_BLOCKED = (
    "EXISTS (SELECT 1 FROM blocks k WHERE k.kind = 'author' AND k.value = " + AUTHOR + ")"
)
# The URL's host (with any port), in SQL so the check stays in C. The URL LIKE first: a cheap
# necessary condition of the host LIKE (the host is part of the URL, same wildcards and case
# folding) that spares most rows the host expression.
_REST = "substr({m}.url, instr({m}.url, '//') + 2)"
_HOST = f"lower(substr({_REST}, 1, instr({_REST} || '/', '/') - 1))"
_SITE_MATCH = (
    "{m}.url LIKE '%' || {value} || '%'"  # the host, a subdomain, any port
    f" AND '.' || {_HOST} || ':' LIKE '%.' || {{value}} || ':%'"
)
_SITE_BLOCKED = (
    "EXISTS (SELECT 1 FROM blocks k WHERE k.kind = 'site' AND "
    + _SITE_MATCH.replace("{value}", "k.value")
    + ")"
)


def blocked_sql(alias: str) -> str:
    """1 when a block covers the mention row ``alias`` (its author or its site), else 0."""
    return f"({_AUTHOR_BLOCKED} OR {_SITE_BLOCKED})".replace("{m}", alias)


def site_match_sql(alias: str) -> str:
    """The site rule for one value bound as ``?``: the URL's host is it or a subdomain."""
    return _SITE_MATCH.replace("{value}", "?").replace("{m}", alias)


# -- triggers -------------------------------------------------------------------------------


def _status(mention_id: str) -> str:
    return f"coalesce((SELECT status FROM mention_triage WHERE mention_id = {mention_id}), 'new')"


def _row(m: str, *, status: str | None = None, hidden: str | None = None) -> str:
    """The dimension values of mention row ``m`` (``new``, ``old`` or an alias)."""
    return (
        f"{m}.source_name, coalesce({m}.sentiment, 0), coalesce({m}.language, 0),"
        f" {status or _status(f'{m}.id')}, {hidden or f'{m}.hidden'}"
    )


def _upsert(table: str, select: str, *, brand: bool) -> str:
    """Add the ``n`` of each selected row to its group (a delta: +1 or -1)."""
    key = f"{'brand, ' if brand else ''}at, {_DIMS}"
    return (
        f"INSERT INTO {table} ({key}, n) {select}"
        f" ON CONFLICT ({key}) DO UPDATE SET n = n + excluded.n;"
    )


def _add_mention(m: str, delta: int, **dims: str) -> str:
    """Count mention row ``m`` (``new`` or ``old``) up or down in the all-mentions tables."""
    return "\n".join(
        _upsert(table, f"VALUES (substr({m}.ts, 1, {w}), {_row(m, **dims)}, {delta})", brand=False)
        for _, w, table, _ in GRAINS
    )


def _add_brands(m: str, delta: int, *, links: str, **dims: str) -> str:
    """Count each brand link of mention row ``m`` (``links``: a WHERE on ``x``)."""
    return "\n".join(
        _upsert(
            table,
            f"SELECT x.brand, substr(x.ts, 1, {w}), {_row(m, **dims)}, {delta}"
            f" FROM mention_brands x WHERE {links}",
            brand=True,
        )
        for _, w, _, table in GRAINS
    )


def _add_link(link: str, delta: int) -> str:
    """Count one brand link row ``link`` with its mention's dimensions."""
    return "\n".join(
        _upsert(
            table,
            f"SELECT {link}.brand, substr({link}.ts, 1, {w}), {_row('m')}, {delta}"
            f" FROM mentions m WHERE m.id = {link}.mention_id",
            brand=True,
        )
        for _, w, _, table in GRAINS
    )


def _move_status(mention_id: str, old: str, new: str) -> str:
    """A mention's triage status changed from ``old`` to ``new`` (SQL expressions)."""
    statements = []
    for status, delta in ((old, -1), (new, 1)):
        row = _row("m", status=status)
        for _, w, table, brand_table in GRAINS:
            statements.append(
                _upsert(
                    table,
                    f"SELECT substr(m.ts, 1, {w}), {row}, {delta} FROM mentions m"
                    f" WHERE m.id = {mention_id}",
                    brand=False,
                )
            )
            statements.append(
                _upsert(
                    brand_table,
                    f"SELECT x.brand, substr(x.ts, 1, {w}), {row}, {delta}"
                    f" FROM mentions m JOIN mention_brands x ON x.mention_id = m.id"
                    f" WHERE m.id = {mention_id}",
                    brand=True,
                )
            )
    return "\n".join(statements)


_CHANGED = " OR ".join(
    f"{old} IS NOT {new}"
    for old, new in (
        *((f"old.{c}", f"new.{c}") for c in ("source_name", "sentiment", "language", "hidden")),
        ("substr(old.ts, 1, 13)", "substr(new.ts, 1, 13)"),
    )
)
_SET_HIDDEN = (
    "UPDATE mentions SET hidden = {b} WHERE rowid = new.rowid AND hidden IS NOT {b};"
).replace("{b}", blocked_sql("new"))

TRIGGERS: dict[str, str] = {
    # One trigger for an insert: counted as inserted first, then ``hidden`` set, whose UPDATE
    # moves the count (summary_mentions_au): the same result in any firing order.
    "summary_mentions_ai": f"""AFTER INSERT ON mentions BEGIN
        {_add_mention("new", 1)}
        {_add_brands("new", 1, links="x.mention_id = new.id")}
        {_SET_HIDDEN}
    END""",
    "summary_mentions_au": f"""AFTER UPDATE OF ts, source_name, sentiment, language, hidden
        ON mentions WHEN {_CHANGED} BEGIN
        {_add_mention("old", -1)}
        {_add_mention("new", 1)}
        {_add_brands("old", -1, links="x.mention_id = old.id")}
        {_add_brands("new", 1, links="x.mention_id = new.id")}
    END""",
    # The links go first, while the mention is there to count them down: by the time
    # ON DELETE CASCADE removes them the mention row is already gone.
    "summary_mentions_bd": """BEFORE DELETE ON mentions BEGIN
        DELETE FROM mention_brands WHERE mention_id = old.id;
    END""",
    "summary_mentions_ad": f"AFTER DELETE ON mentions BEGIN {_add_mention('old', -1)} END",
    "hidden_mentions_au": f"""AFTER UPDATE OF url, author_handle, author_name ON mentions
        BEGIN {_SET_HIDDEN} END""",
    "summary_brands_ai": f"AFTER INSERT ON mention_brands BEGIN {_add_link('new', 1)} END",
    "summary_brands_ad": f"AFTER DELETE ON mention_brands BEGIN {_add_link('old', -1)} END",
    "summary_brands_au": f"""AFTER UPDATE ON mention_brands BEGIN
        {_add_link("old", -1)}
        {_add_link("new", 1)}
    END""",
    "summary_triage_ai": f"""AFTER INSERT ON mention_triage WHEN new.status IS NOT 'new' BEGIN
        {_move_status("new.mention_id", "'new'", "new.status")}
    END""",
    "summary_triage_au": f"""AFTER UPDATE OF status, mention_id ON mention_triage
        WHEN old.status IS NOT new.status OR old.mention_id IS NOT new.mention_id BEGIN
        {_move_status("old.mention_id", "old.status", "'new'")}
        {_move_status("new.mention_id", "'new'", "new.status")}
    END""",
    "summary_triage_ad": f"""AFTER DELETE ON mention_triage WHEN old.status IS NOT 'new' BEGIN
        {_move_status("old.mention_id", "old.status", "'new'")}
    END""",
}


# -- schema, backfill -----------------------------------------------------------------------


def create_schema(db: Database) -> None:
    """m007: the ``hidden`` column, the indexes, the summary tables (filled from the rows
    already there) and the triggers that keep them. One statement per ``execute``:
    ``executescript`` would commit the migration's transaction."""
    db.execute("ALTER TABLE mentions ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0")
    for sql in (*_TABLES, *INDEXES):
        db.execute(sql)
    rebuild(db.conn)
    create_triggers(db.conn)


def create_triggers(conn: sqlite3.Connection) -> None:
    for name, body in TRIGGERS.items():
        conn.execute(f"CREATE TRIGGER {name} {body}")


def drop_triggers(conn: sqlite3.Connection) -> None:
    """Set the triggers aside (a bulk load that calls :func:`rebuild` after it)."""
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


def rebuild(conn: sqlite3.Connection) -> None:
    """Recompute ``hidden`` and every summary from the rows (migration, bulk loads)."""
    blocked = blocked_sql("mentions")
    conn.execute(f"UPDATE mentions SET hidden = {blocked} WHERE hidden IS NOT {blocked}")
    dims = (
        "m.source_name, coalesce(m.sentiment, 0), coalesce(m.language, 0),"
        " coalesce(t.status, 'new'), m.hidden"
    )
    triage = "LEFT JOIN mention_triage t ON t.mention_id = m.id"
    for _, w, table, brand_table in GRAINS:
        conn.execute(f"DELETE FROM {table}")
        conn.execute(f"DELETE FROM {brand_table}")
        conn.execute(
            f"INSERT INTO {table} (at, {_DIMS}, n) SELECT substr(m.ts, 1, {w}) AS k, {dims},"
            f" count(*) FROM mentions m {triage} GROUP BY k, {dims}"
        )
        conn.execute(
            f"INSERT INTO {brand_table} (brand, at, {_DIMS}, n)"
            f" SELECT x.brand, substr(x.ts, 1, {w}) AS k, {dims}, count(*)"
            f" FROM mention_brands x JOIN mentions m ON m.id = x.mention_id {triage}"
            f" GROUP BY x.brand, k, {dims}"
        )


# -- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryFilter:
    """A filter a summary can answer: only summarised dimensions, at most one brand."""

    brand: str | None = None
    sources: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # () = any status
    hidden: int | None = None  # None = hidden and visible alike
    since: datetime | None = None
    until: datetime | None = None


Part = tuple[str, datetime | None, datetime | None]
"""(``raw``, ``hour`` or ``day``, since, until): where a stretch of a window is counted."""
RawRows = Callable[[datetime | None, datetime | None], tuple[str, list[Any]]]
"""``(since, until) -> (sql, params)``: the raw rows of a window as (brand, at, source_name,
sentiment (0 for pending), n = 1), with every other condition of the read."""


def split_window(
    since: datetime | None, until: datetime | None, *, days: bool = True
) -> list[Part]:
    """Cut a window into raw edges (the partial first and last hour), whole hours and whole
    days (``days=False``: hours only, for per-hour buckets). ``None`` is an open end. Times
    are cut to whole seconds, as ``to_iso`` stores and compares them."""
    start = from_iso(to_iso(since)) if since else None
    end = from_iso(to_iso(until)) if until else None
    first = _ceil(start, timedelta(hours=1)) if start else None
    last = end.replace(minute=0, second=0) if end else None
    if first and last and first >= last:
        return [("raw", since, until)]
    parts: list[Part] = []
    if start and first and start < first:
        parts.append(("raw", since, first))
    if end and last and last < end:
        parts.append(("raw", last, until))
    first_day = _ceil(first, timedelta(days=1)) if first else None
    last_day = last.replace(hour=0) if last else None
    if not days or (first_day and last_day and first_day >= last_day):
        return [*parts, ("hour", first, last)]
    if first and first_day and first < first_day:
        parts.append(("hour", first, first_day))
    if last and last_day and last_day < last:
        parts.append(("hour", last_day, last))
    return [*parts, ("day", first_day, last_day)]


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = moment.replace(minute=0, second=0)
    if unit == timedelta(days=1):
        floor = floor.replace(hour=0)
    return floor if floor == moment else floor + unit


def counted_rows(f: SummaryFilter, raw: RawRows, *, days: bool = True) -> tuple[str, list[Any]]:
    """SQL of (brand, at, source_name, sentiment, n) rows whose sums answer ``f`` exactly:
    whole days and hours from the summaries, the partial edge hours from ``raw``; ``at`` is
    the hour or the day (``days=False``: always the hour)."""
    parts: list[str] = []
    params: list[Any] = []
    for kind, since, until in split_window(f.since, f.until, days=days):
        sql, values = raw(since, until) if kind == "raw" else _summary_part(f, kind, since, until)
        parts.append(sql)
        params += values
    return " UNION ALL ".join(parts), params


def _summary_part(
    f: SummaryFilter, grain: str, first: datetime | None, last: datetime | None
) -> tuple[str, list[Any]]:
    _, width, table, brand_table = next(g for g in GRAINS if g[0] == grain)
    conditions: list[str] = []
    params: list[Any] = []
    if f.brand is not None:
        conditions.append("s.brand = ?")
        params.append(f.brand)
    if first:
        conditions.append("s.at >= ?")
        params.append(to_iso(first)[:width])
    if last:
        conditions.append("s.at < ?")
        params.append(to_iso(last)[:width])
    for column, values in (
        ("source_name", f.sources),
        ("sentiment", f.sentiments),
        ("language", f.languages),
        ("status", f.statuses),
    ):
        if values:
            conditions.append(f"s.{column} IN ({', '.join('?' * len(values))})")
            params += list(values)
    if f.hidden is not None:
        conditions.append("s.hidden = ?")
        params.append(f.hidden)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    brand = "s.brand" if f.brand is not None else "NULL"
    table = brand_table if f.brand is not None else table
    select = f"SELECT {brand} AS brand, s.at AS at, s.source_name AS source_name,"
    return f"{select} s.sentiment AS sentiment, s.n AS n FROM {table} s{where}", params


RAW_COLUMNS = (
    "SELECT {brand} AS brand, substr(m.ts, 1, 13) AS at, m.source_name AS source_name,"
    " coalesce(m.sentiment, 0) AS sentiment, 1 AS n"
)
"""The raw half's select list, same columns as the summary's (``{brand}``: NULL or x.brand)."""


def label(sentiment: object) -> str:
    """The summary's pending marker (integer 0) back to the reads' ``pending``."""
    return "pending" if sentiment is None or sentiment == 0 else str(sentiment)


def sentiment_key(sentiment: object) -> tuple[int, str]:
    """SQLite's order of the stored labels: NULL (0 here) first, then text."""
    return (0, "") if sentiment is None or sentiment == 0 else (1, str(sentiment))


def total(conn: Database, sql: str, params: Sequence[Any]) -> int:
    """The sum of ``n`` over counted rows."""
    row = conn.execute(f"SELECT coalesce(sum(n), 0) FROM ({sql})", list(params)).fetchone()
    return int(row[0])
