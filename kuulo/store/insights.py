"""Aggregates for the dashboard's Overview and Competitors pages (read side only).

They take the inbox's :class:`InboxFilter`, so blocked authors and sites stay out of the
numbers too. A filter on summarised dimensions only (brand, source, label, language, status,
window) is answered from the per-day and per-hour count tables (``summaries.py``): whole days
and hours from the summaries, the partial first and last hour from ``mentions`` through the ts
index. Any other
filter reads ``mentions`` through the ``ts`` / ``mention_brands(brand, ts)`` indexes
(``tests/kuulo/store/test_query_plans.py``). ``+m.column`` in a GROUP BY stops SQLite from
choosing an index on the grouped column and scanning the whole table (reliability.md L3); the
same ``+`` keeps ``idx_mentions_author_ts`` out of the plain top-authors GROUP BY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, Literal, Protocol

from kuulo.clock import to_iso
from kuulo.store.inbox import InboxFilter, InboxQueries, inbox_raw, inbox_summary, inbox_where
from kuulo.store.queries import brand_links, per_bucket, without_brands
from kuulo.store.summaries import (
    AUTHOR,
    SummaryFilter,
    counted_rows,
    label,
    sentiment_key,
    total,
)

Bucket = Literal["hour", "day"]
_FROM = "FROM mentions m LEFT JOIN mention_triage t ON t.mention_id = m.id"
_LABELS = ("negative", "neutral", "positive", "unscored")  # the scorers' labels, sorted
_AUTHOR = AUTHOR.format(m="m")
# top_authors walks authors by reach when the filter holds at least this many mentions; below
# it the GROUP BY over the window is as fast.
WALK_MIN_MENTIONS = 20_000
_NEGATIVE = "sum(CASE WHEN n = 0 OR sentiment = 0 THEN NULL ELSE (sentiment = 'negative') * n END)"
"""``sum(m.sentiment = 'negative')`` over counted rows: NULL when every row is pending."""


class InsightStore(Protocol):
    def sentiment_counts(self, f: InboxFilter) -> dict[str, int]: ...
    def sentiment_over_time(self, f: InboxFilter, bucket: Bucket) -> list[dict[str, Any]]: ...
    def by_source(self, f: InboxFilter) -> list[dict[str, Any]]: ...
    def top_authors(self, f: InboxFilter, limit: int = 10) -> list[dict[str, Any]]: ...
    def brand_sentiment(
        self, brands: Sequence[str], since: datetime | None, until: datetime | None = None
    ) -> list[dict[str, Any]]: ...


class InsightQueries(InboxQueries):
    """Mixed into the SQLite store."""

    def _counted(self, f: InboxFilter, *, days: bool = True) -> tuple[str, list[Any]] | None:
        summary = inbox_summary(f)
        return None if summary is None else counted_rows(summary, inbox_raw(f), days=days)

    def sentiment_counts(self, f: InboxFilter) -> dict[str, int]:
        """Mentions per model label (``pending`` for not yet scored): pending first, then
        the labels in order; labels with no mention left out."""
        if (counted := self._counted(f)) is not None:
            sql, params = counted
            rows = self.db.execute(
                f"SELECT sentiment, sum(n) FROM ({sql}) GROUP BY sentiment HAVING sum(n) > 0",
                params,
            ).fetchall()
            rows.sort(key=lambda r: sentiment_key(r[0]))
            return {label(s): int(n) for s, n in rows}
        where, params = inbox_where(f)
        sums = ", ".join(f"sum(m.sentiment = '{label}') AS {label}" for label in _LABELS)
        known = ", ".join(f"'{label}'" for label in _LABELS)
        # One pass of conditional counts rather than a GROUP BY (whose sort of every row was a
        # third of the time); a label outside _LABELS falls back to the GROUP BY.
        (row,) = self._inbox_rows(
            f"SELECT sum(m.sentiment IS NULL) AS pending, {sums},"
            f" sum(m.sentiment NOT IN ({known})) AS other {_FROM}{where}",
            params,
        )
        if not row.pop("other"):
            return {label: int(n) for label, n in row.items() if n}
        rows = self._inbox_rows(
            "SELECT coalesce(m.sentiment, 'pending') AS sentiment, count(*) AS n"
            f" {_FROM}{where} GROUP BY +m.sentiment",
            params,
        )
        return {r["sentiment"]: int(r["n"]) for r in rows}

    def sentiment_over_time(self, f: InboxFilter, bucket: Bucket) -> list[dict[str, Any]]:
        """Mentions per UTC hour or day and label; ``at`` is an ISO-8601 prefix."""
        width = 13 if bucket == "hour" else 10
        if (counted := self._counted(f, days=bucket == "day")) is not None:
            rows = per_bucket(self.db, *counted, width=width)
            return [{"at": at, "sentiment": s, "mentions": n} for at, s, n in rows]
        where, params = inbox_where(f)
        return self._inbox_rows(
            f"SELECT substr(m.ts, 1, {width}) AS at, coalesce(m.sentiment, 'pending')"
            f" AS sentiment, count(*) AS mentions {_FROM}{where}"
            " GROUP BY at, +m.sentiment ORDER BY at, +m.sentiment",
            params,
        )

    def by_source(self, f: InboxFilter) -> list[dict[str, Any]]:
        """Mentions and negatives per source, most mentioned first."""
        if (counted := self._counted(f)) is not None:
            sql, params = counted
            return self._inbox_rows(
                f"SELECT source_name AS source, sum(n) AS mentions, {_NEGATIVE} AS negative"
                f" FROM ({sql}) GROUP BY source_name HAVING sum(n) > 0"
                " ORDER BY mentions DESC, source",
                params,
            )
        where, params = inbox_where(f)
        return self._inbox_rows(
            "SELECT m.source_name AS source, count(*) AS mentions,"
            " sum(m.sentiment = 'negative') AS negative"
            f" {_FROM}{where} GROUP BY +m.source_name ORDER BY mentions DESC, source",
            params,
        )

    def top_authors(self, f: InboxFilter, limit: int = 10) -> list[dict[str, Any]]:
        """Authors by reach (their largest follower count seen), with their mention counts.

        A large filtered set walks ``idx_mentions_followers`` from the top, stopping once
        ``limit`` authors (and any tied with the last) are found, then counts just those
        through ``idx_mentions_author_ts``; the same answer as the GROUP BY of every mention.
        """
        counted = self._counted(f)
        if limit > 0 and counted and total(self.db, *counted) >= WALK_MIN_MENTIONS:
            candidates = self._authors_by_reach(f, limit)
            if candidates is not None:
                return self._author_counts(f, candidates)[:limit]
        where, params = inbox_where(f)
        return self._inbox_rows(
            f"SELECT {_AUTHOR} AS author, max(m.author_followers) AS reach, count(*) AS mentions,"
            " sum(m.sentiment = 'negative') AS negative"
            f" {_FROM}{where} AND +{_AUTHOR} IS NOT NULL GROUP BY +{_AUTHOR}"
            " ORDER BY reach DESC NULLS LAST, mentions DESC, author LIMIT ?",
            [*params, limit],
        )

    def _authors_by_reach(self, f: InboxFilter, limit: int) -> list[str] | None:
        """Every author whose reach in ``f`` is at least the ``limit``-th largest; None when
        fewer than ``limit`` authors have a follower count (the rest rank by mentions)."""
        where, params = _correlated_where(f)
        cur = self.db.execute(
            f"SELECT {_AUTHOR}, m.author_followers"
            " FROM mentions m INDEXED BY idx_mentions_followers"
            f" LEFT JOIN mention_triage t ON t.mention_id = m.id{where}"
            f" AND m.author_followers IS NOT NULL AND {_AUTHOR} IS NOT NULL"
            " ORDER BY m.author_followers DESC",
            params,
        )
        reach: dict[str, int] = {}
        floor: int | None = None
        try:
            while rows := cur.fetchmany(500):
                for author, followers in rows:
                    if floor is not None and followers < floor:
                        return list(reach)
                    if author not in reach:
                        reach[author] = followers
                        if len(reach) == limit:
                            floor = followers
        finally:
            cur.close()
        return list(reach) if floor is not None else None

    def _author_counts(self, f: InboxFilter, authors: list[str]) -> list[dict[str, Any]]:
        where, params = _correlated_where(f)
        rows = self._inbox_rows(
            f"SELECT {_AUTHOR} AS author, max(m.author_followers) AS reach, count(*) AS mentions,"
            " sum(m.sentiment = 'negative') AS negative"
            " FROM mentions m INDEXED BY idx_mentions_author_ts"
            f" LEFT JOIN mention_triage t ON t.mention_id = m.id{where}"
            f" AND {_AUTHOR} IN ({', '.join('?' * len(authors))}) GROUP BY {_AUTHOR}",
            [*params, *authors],
        )
        rows.sort(key=lambda r: (-r["reach"], -r["mentions"], r["author"]))
        return rows

    def brand_sentiment(
        self, brands: Sequence[str], since: datetime | None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Mentions per brand and label in a window (share of voice), blocked ones left out."""
        if not brands:
            return []
        parts: list[str] = []
        params: list[Any] = []
        for brand in dict.fromkeys(brands):
            summary = SummaryFilter(brand=brand, hidden=0, since=since, until=until)
            sql, values = counted_rows(summary, partial(brand_raw_rows, brand))
            parts.append(sql)
            params += values
        rows = self.db.execute(
            f"SELECT brand, sentiment, sum(n) FROM ({' UNION ALL '.join(parts)})"
            " GROUP BY brand, sentiment HAVING sum(n) > 0",
            params,
        ).fetchall()
        rows.sort(key=lambda r: (r[0], sentiment_key(r[1])))
        return [{"brand": b, "sentiment": label(s), "mentions": int(n)} for b, s, n in rows]


def brand_raw_rows(
    brand: str, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    """One brand's visible links in a window, in the summaries' columns (edge hours)."""
    conditions, params = ["x.brand = ?"], [brand]
    if since:
        conditions.append("x.ts >= ?")
        params.append(to_iso(since))
    if until:
        conditions.append("x.ts < ?")
        params.append(to_iso(until))
    return (
        "SELECT x.brand AS brand, substr(x.ts, 1, 13) AS at, m.source_name AS source_name,"
        " coalesce(m.sentiment, 0) AS sentiment, 1 AS n"
        " FROM mention_brands x JOIN mentions m ON m.id = x.mention_id"
        f" WHERE {' AND '.join(conditions)} AND m.hidden = 0",
        params,
    )


def _correlated_where(f: InboxFilter) -> tuple[str, list[Any]]:
    """``inbox_where`` with the brand as a per-row link lookup, for reads that walk another
    index of ``mentions`` (an ``IN (list of the brand's mentions)`` would build that list)."""
    where, params = inbox_where(replace(f, mentions=without_brands(f.mentions)))
    if not f.mentions.brands:
        return where, params
    links, link_params = brand_links(f.mentions, "x")
    exists = f"EXISTS (SELECT 1 FROM mention_brands x WHERE x.mention_id = m.id AND {links})"
    return f"{where} AND {exists}", [*params, *link_params]
