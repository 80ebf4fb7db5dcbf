"""Aggregates for the dashboard's Overview and Competitors pages (read side only).

They take the inbox's :class:`InboxFilter`, so blocked authors and sites stay out of the
numbers too, and reach ``mentions`` through the ``ts`` / ``mention_brands(brand, ts)`` indexes
(``tests/kuulo/store/test_query_plans.py``). ``+m.column`` in a GROUP BY stops SQLite from
choosing an index on the grouped column and scanning the whole table (reliability.md L3).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from kuulo.clock import to_iso
from kuulo.store.inbox import InboxFilter, InboxQueries, inbox_where

Bucket = Literal["hour", "day"]
_FROM = "FROM mentions m LEFT JOIN mention_triage t ON t.mention_id = m.id"
_LABELS = ("negative", "neutral", "positive", "unscored")  # the scorers' labels, sorted


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

    def sentiment_counts(self, f: InboxFilter) -> dict[str, int]:
        """Mentions per model label (``pending`` for not yet scored).

        One pass of conditional counts rather than a GROUP BY, whose sort of every row in the
        window was a third of the time at 1M mentions; a label outside ``_LABELS`` (none is
        written today) falls back to the GROUP BY. Same dict, same order.
        """
        where, params = inbox_where(f)
        sums = ", ".join(f"sum(m.sentiment = '{label}') AS {label}" for label in _LABELS)
        known = ", ".join(f"'{label}'" for label in _LABELS)
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
        where, params = inbox_where(f)
        return self._inbox_rows(
            f"SELECT substr(m.ts, 1, {width}) AS at, coalesce(m.sentiment, 'pending')"
            f" AS sentiment, count(*) AS mentions {_FROM}{where}"
            " GROUP BY at, +m.sentiment ORDER BY at",
            params,
        )

    def by_source(self, f: InboxFilter) -> list[dict[str, Any]]:
        where, params = inbox_where(f)
        return self._inbox_rows(
            "SELECT m.source_name AS source, count(*) AS mentions,"
            " sum(m.sentiment = 'negative') AS negative"
            f" {_FROM}{where} GROUP BY +m.source_name ORDER BY mentions DESC",
            params,
        )

    def top_authors(self, f: InboxFilter, limit: int = 10) -> list[dict[str, Any]]:
        """Authors by reach (their largest follower count seen), with their mention counts."""
        where, params = inbox_where(f)
        return self._inbox_rows(
            "SELECT coalesce(m.author_handle, m.author_name) AS author,"
            " max(m.author_followers) AS reach, count(*) AS mentions,"
            " sum(m.sentiment = 'negative') AS negative"
            f" {_FROM}{where} AND coalesce(m.author_handle, m.author_name) IS NOT NULL"
            " GROUP BY 1 ORDER BY reach DESC NULLS LAST, mentions DESC LIMIT ?",
            [*params, limit],
        )

    def brand_sentiment(
        self, brands: Sequence[str], since: datetime | None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Mentions per brand and label in a window (share of voice), blocked ones left out."""
        if not brands:
            return []
        marks = ", ".join("?" * len(brands))
        conditions, params = [f"x.brand IN ({marks})"], list(brands)
        if since:
            conditions.append("x.ts >= ?")
            params.append(to_iso(since))
        if until:
            conditions.append("x.ts < ?")
            params.append(to_iso(until))
        hidden, block_params = inbox_where(InboxFilter())  # only the block conditions
        return self._inbox_rows(
            "SELECT x.brand, coalesce(m.sentiment, 'pending') AS sentiment, count(*) AS mentions"
            " FROM mention_brands x JOIN mentions m ON m.id = x.mention_id"
            f" WHERE {' AND '.join(conditions)} AND {hidden.removeprefix(' WHERE ')}"
            " GROUP BY x.brand, +m.sentiment ORDER BY x.brand",
            [*params, *block_params],
        )
