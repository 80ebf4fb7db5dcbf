"""The alert outbox: queue, claim, finish, dead-letter and resend (all alert SQL lives here).

Transactional outbox: alert intents are inserted by :func:`insert_alerts` inside the same
``BEGIN IMMEDIATE`` transaction that saves the scores which triggered them. A sender claims a
*group* of due rows (one rule x channel x target) with a conditional UPDATE, under the write
lock, so two processes never claim the same row; a row left in ``sending`` by a crash is
claimed again once its lease has passed (at-least-once). Read-side summaries for the CLI are
in ``alert_queries.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from kuulo.alert_model import AlertIntent, MentionFacts
from kuulo.clock import from_iso, to_iso
from kuulo.store.alert_queries import AlertQueries, AlertReadStore

Outcome = Literal["sent", "transient", "ambiguous", "permanent", "broken"]

_INSERT = """
INSERT OR IGNORE INTO alert_outbox (alert_key, channel, target, rule, kind, group_key,
    mention_id, brand, payload, created_at, enqueued_at, due_at)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE ? IS NULL OR EXISTS (SELECT 1 FROM mentions WHERE id = ? AND version = ?)
"""
# Rows a sender may take now: due and waiting, or claimed by a sender whose lease ran out.
_CLAIMABLE = (
    "((status = 'pending' AND due_at <= :due) OR (status = 'sending' AND lease_until <= :now))"
)
# Undelivered rows nobody is working on (a live lease means a send is in progress), older
# than the horizon; written so that both halves use the status index.
_EXPIRED = (
    "((status = 'pending' AND enqueued_at < :horizon)"
    " OR (status = 'sending' AND lease_until <= :now AND enqueued_at < :horizon))"
)
# The next group to flush: a due row whose group is not held back (group_interval after a
# send, backoff after a failure), or a row a crashed sender left behind; on a channel that is
# configured and neither rate-limited nor broken.
_NEXT_GROUP = """
SELECT o.group_key FROM alert_outbox o LEFT JOIN alert_groups g ON g.group_key = o.group_key
WHERE ((o.status = 'pending' AND o.due_at <= :due
        AND (g.not_before IS NULL OR g.not_before <= :now))
    OR (o.status = 'sending' AND o.lease_until <= :now))
  AND o.channel IN (SELECT value FROM json_each(:channels))
  AND o.channel || '/' || o.target NOT IN (SELECT value FROM json_each(:skip))
  AND o.channel NOT IN (SELECT name FROM alert_channels WHERE paused_until > :now)
ORDER BY o.due_at LIMIT 1
"""
_ITEMS = """
SELECT o.alert_key, o.brand, o.kind, o.payload, m.source, m.source_name, m.author_name,
    m.author_handle, m.author_followers, m.title, m.text, m.url, m.ts, m.rating, m.sentiment,
    m.sentiment_score, m.sentiment_reason
FROM alert_outbox o LEFT JOIN mentions m ON m.id = o.mention_id
WHERE o.claim_token = ?
ORDER BY m.author_followers IS NULL, m.author_followers DESC, m.sentiment_score IS NULL,
    m.sentiment_score, o.id
LIMIT ?
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """A group of outbox rows one sender now owns, until ``lease_until``."""

    token: str
    group_key: str
    rule: str
    channel: str
    target: int
    kind: str
    count: int
    first_id: int
    failures: int  # consecutive failed attempts of this group so far (backoff exponent)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one send attempt ended, and what the store should remember about it."""

    outcome: Outcome
    message_key: str
    error: str | None = None
    next_flush_at: datetime | None = None  # sent: + group_interval; transient: the backoff
    channel_paused_until: datetime | None = None  # 429 Retry-After, or the next broken probe


class OutboxStore(AlertReadStore, Protocol):
    """The outbox half of the store contract (see :class:`kuulo.store.Store`)."""

    def enqueue_alerts(self, intents: Sequence[AlertIntent], now: datetime) -> int: ...
    def alert_facts(self, ids: Sequence[str]) -> dict[str, MentionFacts]: ...
    def expire_alerts(self, now: datetime, retention: timedelta) -> int: ...
    def claim_group(
        self,
        now: datetime,
        lease: timedelta,
        token: str,
        channels: Sequence[str],
        due_by: datetime | None = None,
        skip: Sequence[str] = (),
    ) -> Claim | None: ...
    def claimed_items(self, token: str, limit: int) -> list[dict[str, Any]]: ...
    def claimed_keys(self, token: str, limit: int) -> list[str]: ...
    def finish_claim(self, claim: Claim, result: AttemptResult, now: datetime) -> int: ...
    def resend_alerts(
        self, now: datetime, ids: Sequence[int] = (), *, all_dead: bool = False
    ) -> int: ...
    def mark_channel_ok(self, name: str) -> None: ...


def insert_alerts(conn: sqlite3.Connection, intents: Sequence[AlertIntent], now: datetime) -> int:
    """Queue intents in the caller's transaction; duplicates (same key and target) are ignored.

    A mention alert is written only if its mention still has the version that was scored,
    i.e. only when the score saved in this same transaction actually landed.
    """
    stamp = to_iso(now)
    rows = [
        (
            i.alert_key, i.channel, i.target, i.rule, i.kind, i.group_key, i.mention_id,
            i.brand, json.dumps(i.payload, sort_keys=True), stamp, stamp, to_iso(i.due_at),
            i.mention_id, i.mention_id, i.mention_version,
        )
        for i in intents
    ]  # fmt: skip
    before = conn.total_changes
    conn.executemany(_INSERT, rows)
    return conn.total_changes - before


class OutboxQueries(AlertQueries):
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    # -- queue ------------------------------------------------------------------------------

    def enqueue_alerts(self, intents: Sequence[AlertIntent], now: datetime) -> int:
        """Queue alerts that no score triggered (spikes, health); returns rows added."""
        with self.write() as conn:
            return insert_alerts(conn, intents, now)

    def alert_facts(self, ids: Sequence[str]) -> dict[str, MentionFacts]:
        """The stored fields rules look at, for the given mentions."""
        found: dict[str, MentionFacts] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            rows = self.db.execute(
                "SELECT m.id, m.version, m.source_name, m.text, m.ts, m.title, m.language,"
                " m.author_followers, m.rating, (SELECT group_concat(brand, char(31)) FROM"
                " mention_brands b WHERE b.mention_id = m.id) FROM mentions m"
                f" WHERE m.id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for r in rows:
                brands = tuple(sorted(r[9].split("\x1f"))) if r[9] else ()
                found[r[0]] = MentionFacts(
                    id=r[0], version=r[1], source_name=r[2], brands=brands, text=r[3],
                    published_at=from_iso(r[4]), title=r[5], language=r[6], reach=r[7],
                    rating=r[8],
                )  # fmt: skip
        return found

    # -- claim and finish -------------------------------------------------------------------

    def expire_alerts(self, now: datetime, retention: timedelta) -> int:
        """Dead-letter what could not be delivered within the retention horizon (never drop)."""
        with self.write() as conn:
            cur = conn.execute(
                f"UPDATE alert_outbox SET status = 'dead', dead_at = :now, claim_token = NULL,"
                f" lease_until = NULL, last_error = 'not delivered within {_words(retention)}'"
                " || coalesce(' (last error: ' || last_error || ')', '')"
                f" WHERE {_EXPIRED}",
                {"now": to_iso(now), "horizon": to_iso(now - retention)},
            )
        return cur.rowcount

    def claim_group(
        self,
        now: datetime,
        lease: timedelta,
        token: str,
        channels: Sequence[str],
        due_by: datetime | None = None,
        skip: Sequence[str] = (),
    ) -> Claim | None:
        """Claim every claimable row of the next due group (on the listed channels).

        The group is chosen and its rows taken in one BEGIN IMMEDIATE transaction, and the
        UPDATE re-checks each row's state: a row another process claimed is not taken twice.
        ``due_by`` (default ``now``) lets a one-shot run take rows due a little later;
        ``skip`` lists ``channel/target`` pairs to leave alone (they just failed).
        """
        params = {
            "now": to_iso(now),
            "due": to_iso(due_by or now),
            "channels": json.dumps(list(channels)),
            "skip": json.dumps(list(skip)),
        }
        with self.write() as conn:
            row = conn.execute(_NEXT_GROUP, params).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE alert_outbox SET status = 'sending', claim_token = :token,"
                " lease_until = :lease, attempts = attempts + 1, last_attempt_at = :now"
                f" WHERE group_key = :group AND {_CLAIMABLE}",
                {**params, "token": token, "lease": to_iso(now + lease), "group": row[0]},
            )
            return _claim(conn, token, row[0])

    def claimed_items(self, token: str, limit: int) -> list[dict[str, Any]]:
        """The top rows of a claim with their mentions: largest reach, then most negative."""
        cur = self.db.execute(_ITEMS, [token, limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def claimed_keys(self, token: str, limit: int) -> list[str]:
        rows = self.db.execute(
            "SELECT alert_key FROM alert_outbox WHERE claim_token = ? ORDER BY id LIMIT ?",
            [token, limit],
        ).fetchall()
        return [r[0] for r in rows]

    def finish_claim(self, claim: Claim, result: AttemptResult, now: datetime) -> int:
        """Record the attempt and move the claimed rows on; returns rows still ours.

        Rows whose lease ran out and were claimed by another sender are left alone (0).
        """
        with self.write() as conn:
            changed = _update_rows(conn, claim.token, result, now)
            _update_group(conn, claim, result, now)
            _update_channel(conn, claim.channel, result, now)
            conn.execute(
                "INSERT INTO alert_attempts (group_key, channel, target, message_key, alerts,"
                " at, outcome, error, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    claim.group_key, claim.channel, claim.target, result.message_key,
                    claim.count, to_iso(now), result.outcome, result.error,
                    result.next_flush_at and to_iso(result.next_flush_at),
                ],
            )  # fmt: skip
        return changed

    # -- operator actions -------------------------------------------------------------------

    def resend_alerts(
        self, now: datetime, ids: Sequence[int] = (), *, all_dead: bool = False
    ) -> int:
        """Put dead letters back in the queue, due now, with a fresh retention horizon."""
        where = "status = 'dead'"
        params: list[Any] = [to_iso(now), to_iso(now)]
        if not all_dead:
            where += f" AND id IN ({', '.join('?' * len(ids))})"
            params += list(ids)
        with self.write() as conn:
            channels = [
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT channel FROM alert_outbox WHERE {where}", params[2:]
                ).fetchall()
            ]
            cur = conn.execute(
                "UPDATE alert_outbox SET status = 'pending', due_at = ?, enqueued_at = ?,"
                f" dead_at = NULL, claim_token = NULL WHERE {where}",
                params,
            )
            # the operator says the channel is fixed: let it be tried at once
            conn.executemany(
                "UPDATE alert_channels SET broken_at = NULL, broken_reason = NULL,"
                " paused_until = NULL WHERE name = ?",
                [(c,) for c in channels],
            )
        return cur.rowcount

    def mark_channel_ok(self, name: str) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE alert_channels SET broken_at = NULL, broken_reason = NULL,"
                " paused_until = NULL WHERE name = ?",
                [name],
            )


def _claim(conn: sqlite3.Connection, token: str, group_key: str) -> Claim | None:
    row = conn.execute(
        "SELECT rule, channel, target, kind, count(*), min(id) FROM alert_outbox"
        " WHERE claim_token = ? AND status = 'sending'",
        [token],
    ).fetchone()
    if row is None or row[4] == 0:
        return None
    failures = conn.execute(
        "SELECT failures FROM alert_groups WHERE group_key = ?", [group_key]
    ).fetchone()
    return Claim(
        token=token, group_key=group_key, rule=row[0], channel=row[1], target=row[2],
        kind=row[3], count=row[4], first_id=row[5], failures=failures[0] if failures else 0,
    )  # fmt: skip


def _update_rows(conn: sqlite3.Connection, token: str, result: AttemptResult, now: datetime) -> int:
    status = {"sent": "sent", "permanent": "dead", "broken": "dead"}.get(result.outcome, "pending")
    cur = conn.execute(
        "UPDATE alert_outbox SET status = ?, lease_until = NULL, last_error = ?,"
        " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
        " dead_at = CASE WHEN ? = 'dead' THEN ? ELSE dead_at END,"
        " claim_token = CASE WHEN ? = 'pending' THEN NULL ELSE claim_token END"
        " WHERE claim_token = ? AND status = 'sending'",
        [status, result.error, status, to_iso(now), status, to_iso(now), status, token],
    )
    return cur.rowcount


def _update_group(
    conn: sqlite3.Connection, claim: Claim, result: AttemptResult, now: datetime
) -> None:
    if result.outcome in ("transient", "ambiguous"):
        _upsert_group(
            conn, claim.group_key,
            "not_before = excluded.not_before, failures = alert_groups.failures + 1",
            result.next_flush_at, failures=1,
        )  # fmt: skip
    elif result.outcome == "sent":
        _upsert_group(
            conn, claim.group_key,
            "not_before = excluded.not_before, failures = 0, last_sent_at = excluded.last_sent_at",
            result.next_flush_at, last_sent_at=now,
        )  # fmt: skip
    else:  # dead-lettered: the next alerts of this group start afresh
        _upsert_group(conn, claim.group_key, "failures = 0", None)


def _upsert_group(
    conn: sqlite3.Connection,
    group_key: str,
    on_conflict: str,
    not_before: datetime | None,
    *,
    failures: int = 0,
    last_sent_at: datetime | None = None,
) -> None:
    conn.execute(
        "INSERT INTO alert_groups (group_key, not_before, failures, last_sent_at)"
        f" VALUES (?, ?, ?, ?) ON CONFLICT(group_key) DO UPDATE SET {on_conflict}",
        [
            group_key, not_before and to_iso(not_before), failures,
            last_sent_at and to_iso(last_sent_at),
        ],
    )  # fmt: skip


def _update_channel(
    conn: sqlite3.Connection, channel: str, result: AttemptResult, now: datetime
) -> None:
    if result.outcome == "sent":
        conn.execute(
            "UPDATE alert_channels SET broken_at = NULL, broken_reason = NULL,"
            " paused_until = NULL WHERE name = ?",
            [channel],
        )
        return
    if result.channel_paused_until is None:
        return
    broken = result.outcome == "broken"
    conn.execute(
        "INSERT INTO alert_channels (name, broken_at, broken_reason, paused_until)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
        " paused_until = excluded.paused_until,"
        " broken_at = coalesce(alert_channels.broken_at, excluded.broken_at),"
        " broken_reason = coalesce(excluded.broken_reason, alert_channels.broken_reason)",
        [
            channel, to_iso(now) if broken else None, result.error if broken else None,
            to_iso(result.channel_paused_until),
        ],
    )  # fmt: skip


def _words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
