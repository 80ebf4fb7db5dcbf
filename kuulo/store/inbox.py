"""Staff triage of mentions (the dashboard inbox): all of its SQL.

Status, assignee, tags, notes, sentiment corrections and blocked authors or sites live in their
own tables (migration ``m004_inbox``), never in ``mentions``: the collector may rewrite a mention
and the scorer its label without touching staff work, and a correction never overwrites the
model's label (both are kept for evaluation). Every write runs in ``BEGIN IMMEDIATE`` through
``self.write()`` and is logged in ``inbox_events``. Reads build on :func:`where_clause`, so they
reach ``mentions`` through the same indexes as every other read. What blocks hide is a stored
``mentions.hidden`` flag (``summaries.py``): set on insert by a trigger, and by ``block`` and
``unblock`` for the rows already there, in the same transaction as the block itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlite_utils import Database

from kuulo.clock import to_iso
from kuulo.store.queries import (
    _EXPORT_SELECT,
    brand_driven,
    brand_links,
    search_is_common,
    summary_filter,
    where_clause,
    without_brands,
)
from kuulo.store.records import MentionFilter
from kuulo.store.summaries import (
    AUTHOR,
    RAW_COLUMNS,
    RawRows,
    SummaryFilter,
    blocked_sql,
    counted_rows,
    site_match_sql,
    total,
)

STATUSES: tuple[str, ...] = ("new", "handled", "replied", "ignored")
LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
BLOCK_KINDS: tuple[str, ...] = ("author", "site")
MAX_NOTE = 4000
MAX_NAME = 100

INBOX_COLUMNS: tuple[str, ...] = (
    "id", "ts", "source_name", "url", "author", "author_followers", "title", "text",
    "language", "rating", "sentiment", "sentiment_score", "sentiment_reason", "brands",
    "status", "assignee", "tags", "corrected", "notes",
)  # fmt: skip
_INBOX_SELECT = """
SELECT m.id, m.ts, m.source_name, m.url, coalesce(m.author_handle, m.author_name) AS author,
    m.author_followers, m.title, m.text, m.language, m.rating, m.sentiment, m.sentiment_score,
    m.sentiment_reason,
    (SELECT group_concat(brand, ', ') FROM
        (SELECT brand FROM mention_brands x WHERE x.mention_id = m.id ORDER BY brand)) AS brands,
    coalesce(t.status, 'new') AS status, t.assignee,
    (SELECT group_concat(tag, ', ') FROM
        (SELECT tag FROM mention_tags g WHERE g.mention_id = m.id ORDER BY tag)) AS tags,
    (SELECT label FROM sentiment_corrections c WHERE c.mention_id = m.id
        ORDER BY c.id DESC LIMIT 1) AS corrected,
    (SELECT count(*) FROM mention_notes n WHERE n.mention_id = m.id) AS notes
FROM mentions m LEFT JOIN mention_triage t ON t.mention_id = m.id
"""
_FROM_TRIAGE = "FROM mentions m LEFT JOIN mention_triage t ON t.mention_id = m.id"
# A one-brand page walks the brand's links newest (or oldest) first and joins each mention.
_FROM_BRAND = (
    "FROM mention_brands x CROSS JOIN mentions m ON m.id = x.mention_id"
    " LEFT JOIN mention_triage t ON t.mention_id = m.id"
)


# Blocks set and clear the stored flag on the rows they cover, in their own transaction.
HIDE_AUTHOR = (  # through idx_mentions_author_ts
    f"UPDATE mentions SET hidden = 1 WHERE hidden = 0 AND {AUTHOR.format(m='mentions')} = ?"
)
HIDE_SITE = (  # a scan of mentions (a host is no prefix of anything indexed): blocks are rare
    f"UPDATE mentions SET hidden = 1 WHERE hidden = 0 AND {site_match_sql('mentions')}"
)
UNHIDE = (  # the hidden rows (a partial index) that no block covers any more
    f"UPDATE mentions SET hidden = 0 WHERE hidden = 1 AND NOT {blocked_sql('mentions')}"
)


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """The inbox's filters: the shared :class:`MentionFilter` plus triage state."""

    mentions: MentionFilter = field(default_factory=MentionFilter)
    statuses: tuple[str, ...] = ()
    min_rating: float | None = None
    max_rating: float | None = None
    blocked: bool = False  # True: only what blocks hide (to review them); False: hide it


def url_host(url: str | None) -> str | None:
    """The lower-case host of an http(s) URL, without ``www.``; None for anything else."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").removeprefix("www.")
    return host if parts.scheme in ("http", "https") and host else None


def inbox_where(
    f: InboxFilter, *, newest_first: bool = False, common_search: bool = False
) -> tuple[str, list[Any]]:
    """SQL conditions on ``mentions m`` (joined to ``mention_triage t``) for an inbox filter."""
    where, params = where_clause(f.mentions, newest_first=newest_first, common_search=common_search)
    conditions = [where.removeprefix(" WHERE ")] if where else []
    if f.statuses:
        conditions.append(f"coalesce(t.status, 'new') IN ({', '.join('?' * len(f.statuses))})")
        params += list(f.statuses)
    if f.min_rating is not None:
        conditions.append("m.rating >= ?")
        params.append(f.min_rating)
    if f.max_rating is not None:
        conditions.append("m.rating <= ?")
        params.append(f.max_rating)
    conditions.append(f"m.hidden = {1 if f.blocked else 0}")  # blocked author or site
    return " WHERE " + " AND ".join(conditions), params


def inbox_summary(f: InboxFilter) -> SummaryFilter | None:
    """The summary filter answering ``f``'s counts, or None when a raw read must."""
    if f.min_rating is not None or f.max_rating is not None:
        return None
    return summary_filter(f.mentions, statuses=f.statuses, hidden=1 if f.blocked else 0)


def inbox_raw(f: InboxFilter) -> RawRows:
    """The raw rows of ``f`` within a window, in the summaries' columns (for the edge hours)."""

    def raw(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
        window = replace(f.mentions, since=since, until=until)
        where, params = inbox_where(replace(f, mentions=window))
        return f"{RAW_COLUMNS.format(brand='NULL')} {_FROM_TRIAGE}{where}", params

    return raw


def _brand_driven_where(f: InboxFilter) -> tuple[str, list[Any]]:
    """A one-brand filter as conditions on ``mention_brands x`` (walked by its (brand, ts)
    index) and on ``m``: used by the pages, which stop at a limit, so no sort of the brand."""
    links, link_params = brand_links(f.mentions, "x")
    where, params = inbox_where(replace(f, mentions=without_brands(f.mentions)))
    return f"{where} AND {links}", [*params, *link_params]


def _clean(value: str, limit: int, what: str) -> str:
    text = " ".join(value.split()) if limit == MAX_NAME else value.strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text[:limit]


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (use one of: {', '.join(allowed)})")
    return value


class InboxStore(Protocol):
    """The inbox half of the store contract (see :class:`kuulo.store.Store`)."""

    def set_status(self, ids: Sequence[str], status: str, actor: str, now: datetime) -> int: ...
    def assign(
        self, ids: Sequence[str], assignee: str | None, actor: str, now: datetime
    ) -> int: ...
    def add_tag(self, ids: Sequence[str], tag: str, actor: str, now: datetime) -> int: ...
    def remove_tag(self, ids: Sequence[str], tag: str, actor: str, now: datetime) -> int: ...
    def add_note(self, ids: Sequence[str], body: str, actor: str, now: datetime) -> int: ...
    def correct_sentiment(
        self, ids: Sequence[str], label: str, actor: str, now: datetime
    ) -> int: ...
    def block(self, kind: str, value: str, actor: str, now: datetime) -> None: ...
    def unblock(self, kind: str, value: str, actor: str, now: datetime) -> int: ...
    def inbox(self, f: InboxFilter, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]: ...
    def count_inbox(self, f: InboxFilter) -> int: ...
    def inbox_export_rows(self, f: InboxFilter, batch: int = 1000) -> Iterator[dict[str, Any]]: ...
    def notes(self, mention_id: str) -> list[dict[str, Any]]: ...
    def corrections(self, mention_id: str | None = None) -> list[dict[str, Any]]: ...
    def blocks(self) -> list[dict[str, Any]]: ...
    def assignees(self) -> list[str]: ...


class InboxQueries:
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # -- writes -----------------------------------------------------------------------------

    def set_status(self, ids: Sequence[str], status: str, actor: str, now: datetime) -> int:
        """Mark mentions new, handled, replied or ignored; returns how many rows exist."""
        _one_of(status, STATUSES, "status")
        return self._triage(ids, "status", status, actor, now)

    def assign(self, ids: Sequence[str], assignee: str | None, actor: str, now: datetime) -> int:
        """Assign mentions to a team member (``None`` or blank: unassign)."""
        name = " ".join(assignee.split())[:MAX_NAME] if assignee else None
        return self._triage(ids, "assignee", name or None, actor, now)

    def _triage(
        self, ids: Sequence[str], column: str, value: str | None, actor: str, now: datetime
    ) -> int:
        sql = (
            f"INSERT INTO mention_triage (mention_id, {column}, updated_at, updated_by)"
            " SELECT id, ?, ?, ? FROM mentions WHERE id = ?"
            f" ON CONFLICT(mention_id) DO UPDATE SET {column} = excluded.{column},"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by"
        )
        return self._per_mention(ids, sql, [value, to_iso(now), actor], (column, value, actor, now))

    def _per_mention(
        self,
        ids: Sequence[str],
        sql: str,
        params: list[Any],
        event: tuple[str, str | None, str, datetime],
    ) -> int:
        """Run ``sql`` once per mention id (bound last), log the action; one transaction."""
        with self.write() as conn:
            changed = sum(conn.execute(sql, [*params, i]).rowcount for i in ids)
            _log(conn, ids, *event)
        return changed

    def add_tag(self, ids: Sequence[str], tag: str, actor: str, now: datetime) -> int:
        tag = _clean(tag, MAX_NAME, "tag").lower()
        sql = (
            "INSERT OR IGNORE INTO mention_tags (mention_id, tag, added_at, added_by)"
            " SELECT id, ?, ?, ? FROM mentions WHERE id = ?"
        )
        return self._per_mention(ids, sql, [tag, to_iso(now), actor], ("tag", tag, actor, now))

    def remove_tag(self, ids: Sequence[str], tag: str, actor: str, now: datetime) -> int:
        tag = _clean(tag, MAX_NAME, "tag").lower()
        sql = "DELETE FROM mention_tags WHERE tag = ? AND mention_id = ?"
        return self._per_mention(ids, sql, [tag], ("untag", tag, actor, now))

    def add_note(self, ids: Sequence[str], body: str, actor: str, now: datetime) -> int:
        body = _clean(body, MAX_NOTE, "note")
        sql = (
            "INSERT INTO mention_notes (mention_id, body, author, created_at)"
            " SELECT id, ?, ?, ? FROM mentions WHERE id = ?"
        )
        return self._per_mention(ids, sql, [body, actor, to_iso(now)], ("note", None, actor, now))

    def correct_sentiment(self, ids: Sequence[str], label: str, actor: str, now: datetime) -> int:
        """Record a human label beside the model's (which stays as it is), with its context."""
        _one_of(label, LABELS, "label")
        sql = (
            "INSERT INTO sentiment_corrections (mention_id, mention_version, label,"
            " model_label, model_score, model, model_version, corrected_by, corrected_at)"
            " SELECT id, version, ?, sentiment, sentiment_score, sentiment_model,"
            " sentiment_version, ?, ? FROM mentions WHERE id = ?"
        )
        event = ("correct", label, actor, now)
        return self._per_mention(ids, sql, [label, actor, to_iso(now)], event)

    def block(self, kind: str, value: str, actor: str, now: datetime) -> None:
        """Hide an author's (handle, else name) or a site's (host) past and future mentions."""
        _one_of(kind, BLOCK_KINDS, "block kind")
        value = _clean(value, MAX_NAME * 3, kind)
        if kind == "site":
            value = url_host(value if "://" in value else f"https://{value}") or value.lower()
        with self.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO blocks (kind, value, created_at, created_by)"
                " VALUES (?, ?, ?, ?)",
                [kind, value, to_iso(now), actor],
            )
            if kind == "author":
                conn.execute(HIDE_AUTHOR, [value])
            else:
                conn.execute(HIDE_SITE, [value, value])
            _log(conn, [None], f"block_{kind}", value, actor, now)

    def unblock(self, kind: str, value: str, actor: str, now: datetime) -> int:
        with self.write() as conn:
            cur = conn.execute("DELETE FROM blocks WHERE kind = ? AND value = ?", [kind, value])
            conn.execute(UNHIDE)
            _log(conn, [None], f"unblock_{kind}", value, actor, now)
        return cur.rowcount

    # -- reads ------------------------------------------------------------------------------

    def _inbox_rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def inbox(self, f: InboxFilter, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first: the mention, its brands and its triage state (``INBOX_COLUMNS``)."""
        if brand_driven(f.mentions):
            where, params = _brand_driven_where(f)
            select = _INBOX_SELECT.replace(_FROM_TRIAGE, _FROM_BRAND)
            sql = f"{select}{where} ORDER BY x.ts DESC LIMIT ? OFFSET ?"
        else:
            common = search_is_common(self.db, f.mentions)
            where, params = inbox_where(f, newest_first=True, common_search=common)
            sql = f"{_INBOX_SELECT}{where} ORDER BY m.ts DESC LIMIT ? OFFSET ?"
        return self._inbox_rows(sql, [*params, limit, offset])

    def count_inbox(self, f: InboxFilter) -> int:
        if (summary := inbox_summary(f)) is not None:
            return total(self.db, *counted_rows(summary, inbox_raw(f)))
        where, params = inbox_where(f)
        sql = f"SELECT count(*) AS n {_FROM_TRIAGE}{where}"
        return int(self._inbox_rows(sql, params)[0]["n"])

    def inbox_export_rows(self, f: InboxFilter, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every matching mention with the export columns, oldest first, in batches."""
        if brand_driven(f.mentions):  # oldest first along (brand, ts, mention_id): no sort
            where, params = _brand_driven_where(f)
            select = _EXPORT_SELECT.replace("FROM mentions m", _FROM_BRAND)
            sql = f"{select}{where} ORDER BY x.ts, x.mention_id"
        else:
            where, params = inbox_where(f)
            select = _EXPORT_SELECT.replace("FROM mentions m", _FROM_TRIAGE)
            sql = f"{select}{where} ORDER BY m.ts, m.id"
        cur = self.db.execute(sql, params)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(batch):
            for row in rows:
                yield dict(zip(names, row, strict=True))

    def notes(self, mention_id: str) -> list[dict[str, Any]]:
        return self._inbox_rows(
            "SELECT body, author, created_at FROM mention_notes WHERE mention_id = ? ORDER BY id",
            [mention_id],
        )

    def corrections(self, mention_id: str | None = None) -> list[dict[str, Any]]:
        """Human labels beside the model's, newest last (one mention, or all for evaluation)."""
        where = " WHERE mention_id = ?" if mention_id else ""
        return self._inbox_rows(
            "SELECT mention_id, mention_version, label, model_label, model_score, model,"
            f" model_version, corrected_by, corrected_at FROM sentiment_corrections{where}"
            " ORDER BY id",
            [mention_id] if mention_id else [],
        )

    def blocks(self) -> list[dict[str, Any]]:
        return self._inbox_rows(
            "SELECT kind, value, created_at, created_by FROM blocks ORDER BY kind, value", []
        )

    def assignees(self) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT assignee FROM mention_triage WHERE assignee IS NOT NULL"
            " ORDER BY assignee"
        )
        return [r[0] for r in rows.fetchall()]


def _log(
    conn: sqlite3.Connection,
    ids: Sequence[str | None],
    action: str,
    value: str | None,
    actor: str,
    now: datetime,
) -> None:
    """The audit trail of staff actions."""
    conn.executemany(
        "INSERT INTO inbox_events (mention_id, action, value, actor, at) VALUES (?, ?, ?, ?, ?)",
        [(i, action, value, actor, to_iso(now)) for i in ids],
    )
