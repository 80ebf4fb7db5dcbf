"""The SQLite store: connection setup and every write. Reads live in ``queries.py``.

Every write runs in ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of
failing with "database is locked" half-way through a read-then-write transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from kuulo.alert_model import AlertIntent
from kuulo.clock import from_iso, to_iso
from kuulo.errors import StoreError
from kuulo.model import Cursor, Score
from kuulo.normalise import Prepared
from kuulo.store.calibration import CalibrationQueries
from kuulo.store.catalog import CatalogQueries
from kuulo.store.insights import InsightQueries
from kuulo.store.migrations import migrations
from kuulo.store.outbox import OutboxQueries, insert_alerts
from kuulo.store.queries import ReadQueries
from kuulo.store.records import PendingScore, RunOutcome, SaveCounts, SourceState
from kuulo.store.users import UserQueries

BUSY_TIMEOUT_S = 10.0

_MENTION_COLUMNS = (
    "id, source, source_name, native_id, url, author_name, author_handle, author_followers, "
    "title, raw_text, text, language, published_at, collected_at, ts, likes, replies, reposts, "
    "quotes, rating, parent_id, thread_id, raw, content_hash, version, updated_at"
)
_INSERT_MENTION = f"INSERT INTO mentions ({_MENTION_COLUMNS}) VALUES ({', '.join(['?'] * 26)})"
# An edit: new content, version + 1, sentiment cleared so the scorer sees it again.
_UPDATE_CONTENT = """
UPDATE mentions SET url = ?, author_name = ?, author_handle = ?, author_followers = ?,
    title = ?, raw_text = ?, text = ?, language = ?, published_at = ?, ts = ?, likes = ?,
    replies = ?, reposts = ?, quotes = ?, rating = ?, parent_id = ?, thread_id = ?, raw = ?,
    content_hash = ?, version = version + 1, updated_at = ?,
    sentiment = NULL, sentiment_score = NULL, sentiment_model = NULL,
    sentiment_version = NULL, sentiment_reason = NULL, sentiment_confidence = NULL,
    scored_at = NULL
WHERE id = ?
"""
# Same content: only engagement may move; the version stays.
_UPDATE_ENGAGEMENT = """
UPDATE mentions SET author_followers = ?, likes = ?, replies = ?, reposts = ?, quotes = ?
WHERE id = ? AND (author_followers, likes, replies, reposts, quotes)
    IS NOT (?, ?, ?, ?, ?)
"""


def connect(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we open transactions ourselves), WAL, busy timeout."""
    if read_only:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            _enable_wal(conn)
        except sqlite3.Error:
            conn.close()
            raise
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another connection is switching the same new file.

    The switch needs an exclusive lock and SQLite answers "database is locked" at once, without
    the busy handler, when several processes open a brand-new database together.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteStore(
    OutboxQueries, InsightQueries, UserQueries, CalibrationQueries, CatalogQueries, ReadQueries
):
    """Store backed by one SQLite file. One instance per thread (sqlite3 objects are not shared)."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        try:
            self.db = Database(connect(path, read_only=read_only))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> None:
        """Apply pending schema migrations (safe to call on every start, from many processes).

        The check runs under the write lock: two processes opening a new file at once would
        otherwise both see m001 pending and the second fail ("table mentions already exists",
        or "database is locked" from upgrading a deferred read to a write).
        """
        if not migrations.pending(self.db):
            return
        with self.write():  # sqlite-utils nests each migration in a savepoint
            migrations.apply(self.db)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE; rolled back on any error."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as exc:
            # Some errors (disk full, I/O, interrupt) already rolled the transaction back;
            # a second ROLLBACK would then hide the real error behind "no transaction".
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._raise_if_full(exc)
            raise
        try:
            conn.execute("COMMIT")
        except BaseException as exc:  # a failed COMMIT leaves the write lock held: release it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._raise_if_full(exc)
            raise

    def _raise_if_full(self, exc: BaseException) -> None:
        """A full disk (or a file at its size limit) as a StoreError that says what happened
        and that nothing of the transaction was kept (reliability.md F15)."""
        if isinstance(exc, sqlite3.Error) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
            raise StoreError(
                f"cannot write to the database {self.path.name}: the disk (or the database) is"
                " full; nothing of this change was stored. Free some space: kuulo retries."
            ) from exc

    # -- sources and runs -----------------------------------------------------------------

    def sync_sources(self, sources: Sequence[tuple[str, str]], now: datetime) -> None:
        """Make sure each configured (name, kind) has a row; new sources are due now."""
        with self.write() as conn:
            conn.executemany(
                "INSERT INTO sources (name, kind, next_due) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind",
                [(name, kind, to_iso(now)) for name, kind in sources],
            )

    def source_state(self, name: str) -> SourceState | None:
        row = self.db.execute("SELECT * FROM sources WHERE name = ?", [name]).fetchone()
        return (
            None if row is None else _source_state(dict(zip(_columns(self.db), row, strict=True)))
        )

    def due_sources(self, now: datetime) -> list[str]:
        rows = self.db.execute(
            "SELECT name FROM sources WHERE next_due <= ? AND "
            "(paused_until IS NULL OR paused_until <= ?) ORDER BY next_due",
            [to_iso(now), to_iso(now)],
        ).fetchall()
        return [r[0] for r in rows]

    def start_run(self, source_name: str, now: datetime) -> int:
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO runs (source_name, started_at, status) VALUES (?, ?, 'running')",
                [source_name, to_iso(now)],
            )
            conn.execute(
                "UPDATE sources SET last_run_at = ? WHERE name = ?", [to_iso(now), source_name]
            )
        return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        source_name: str,
        outcome: RunOutcome,
        *,
        now: datetime,
        next_due: datetime,
        paused_until: datetime | None = None,
    ) -> None:
        """Close the run log entry and set the source's schedule, in one transaction."""
        ok = outcome.status in ("ok", "not_modified")
        failed = outcome.status == "error"  # "paused" (rate limit, budget) keeps the count
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, fetched = ?, new = ?, updated = ?,"
                " unchanged = ?, skipped = ?, skip_reasons = ?, error = ? WHERE id = ?",
                [
                    to_iso(now), outcome.status, outcome.fetched, outcome.new, outcome.updated,
                    outcome.unchanged, len(outcome.skip_reasons),
                    json.dumps(_summarise(outcome.skip_reasons)), outcome.error, run_id,
                ],
            )  # fmt: skip
            conn.execute(
                "UPDATE sources SET next_due = ?, paused_until = ?,"
                " last_ok_at = CASE WHEN ? THEN ? ELSE last_ok_at END,"
                " last_error = CASE WHEN ? THEN NULL ELSE ? END,"
                " last_error_at = CASE WHEN ? THEN last_error_at ELSE ? END,"
                " failures = CASE WHEN ? THEN 0 WHEN ? THEN failures + 1 ELSE failures END"
                " WHERE name = ?",
                [
                    to_iso(next_due), paused_until and to_iso(paused_until),
                    ok, to_iso(now), ok, outcome.error, ok, to_iso(now), ok, failed, source_name,
                ],
            )  # fmt: skip

    # -- mentions ---------------------------------------------------------------------------

    def save_batch(
        self, source_name: str, items: Sequence[Prepared], cursor: Cursor | None, now: datetime
    ) -> SaveCounts:
        """Upsert a page of mentions and advance the cursor in the same transaction.

        Idempotent on the natural key: the same item twice is one row; changed content updates
        the row and bumps ``version``. ``cursor=None`` leaves the stored cursor as it is.
        """
        items = _last_per_key(items)
        with self.write() as conn:
            known = _known_hashes(conn, [p.mention.key for p in items])
            counts = _upsert(conn, items, known, to_iso(now))
            if cursor is not None:
                conn.execute(
                    "UPDATE sources SET cursor = ? WHERE name = ?",
                    [json.dumps(cursor, sort_keys=True), source_name],
                )
        return counts

    def pending_scores(self, limit: int) -> list[PendingScore]:
        rows = self.db.execute(
            "SELECT id, version, text, language, rating FROM mentions"
            " WHERE sentiment IS NULL LIMIT ?",
            [limit],
        ).fetchall()
        return [PendingScore(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def count_pending(self) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM mentions WHERE sentiment IS NULL").fetchone()[0]
        )

    def save_scores(
        self,
        scored: Sequence[tuple[PendingScore, Score]],
        now: datetime,
        alerts: Sequence[AlertIntent] = (),
    ) -> int:
        """Store scores; a row edited since it was read (version moved) keeps waiting.

        ``alerts`` (outbox rows the rules decided on) commit in the same transaction: a crash
        leaves both or neither, so a scored mention can never miss its alert.
        """
        with self.write() as conn:
            cur = conn.executemany(
                "UPDATE mentions SET sentiment = ?, sentiment_score = ?, sentiment_model = ?,"
                " sentiment_version = ?, sentiment_reason = ?, sentiment_confidence = ?,"
                " scored_at = ? WHERE id = ? AND version = ?",
                [_score_row(p, s, now) for p, s in scored],
            )
            insert_alerts(conn, alerts, now)
        return cur.rowcount

    def reset_scores(self, model: str, version: str, *, everything: bool = False) -> int:
        """Mark mentions for re-scoring: all of them, or those scored by another model/version."""
        where = "sentiment IS NOT NULL"
        params: list[Any] = []
        if not everything:
            where += " AND (sentiment_model IS NOT ? OR sentiment_version IS NOT ?)"
            params = [model, version]
        with self.write() as conn:
            cur = conn.execute(f"UPDATE mentions SET sentiment = NULL WHERE {where}", params)
        return cur.rowcount


def _score_row(p: PendingScore, s: Score, now: datetime) -> tuple[Any, ...]:
    """The parameters of save_scores' UPDATE for one scored mention."""
    return (s.label, s.score, s.model, s.version, s.reason, s.confidence, to_iso(now), p.id,
            p.version)  # fmt: skip


def _summarise(reasons: list[str]) -> list[str]:
    """Per-item reasons -> one line per distinct reason with its count (first 50 reasons)."""
    return [f"{reason} (x{count})" for reason, count in Counter(reasons).most_common(50)]


def _columns(db: Database) -> list[str]:
    return [c.name for c in db["sources"].columns]


def _source_state(row: dict[str, Any]) -> SourceState:
    def when(key: str) -> datetime | None:
        return from_iso(row[key]) if row[key] else None

    return SourceState(
        name=row["name"],
        kind=row["kind"],
        next_due=from_iso(row["next_due"]),
        cursor=json.loads(row["cursor"]) if row["cursor"] else None,
        last_run_at=when("last_run_at"),
        last_ok_at=when("last_ok_at"),
        last_error=row["last_error"],
        paused_until=when("paused_until"),
        failures=row["failures"],
    )


def _last_per_key(items: Sequence[Prepared]) -> list[Prepared]:
    """Within one batch the same key twice is one item: the later copy wins."""
    return list({p.mention.key: p for p in items}.values())


def _known_hashes(conn: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, content_hash FROM mentions WHERE id IN ({marks})", chunk
        ).fetchall()
        known.update((r[0], r[1]) for r in rows)
    return known


def _upsert(
    conn: sqlite3.Connection, items: list[Prepared], known: dict[str, str], now: str
) -> SaveCounts:
    new = [p for p in items if p.mention.key not in known]
    changed = [
        p for p in items if p.mention.key in known and known[p.mention.key] != p.content_hash
    ]
    same = [p for p in items if known.get(p.mention.key) == p.content_hash]
    conn.executemany(_INSERT_MENTION, [_insert_row(p, now) for p in new])
    conn.executemany(_UPDATE_CONTENT, [_update_row(p, now) for p in changed])
    conn.executemany(_UPDATE_ENGAGEMENT, [_engagement_row(p) for p in same])
    if changed:
        conn.executemany(
            "DELETE FROM mention_brands WHERE mention_id = ?", [(p.mention.key,) for p in changed]
        )
    conn.executemany(
        "INSERT INTO mention_brands (mention_id, brand, ts) VALUES (?, ?, ?)",
        [(p.mention.key, b, _ts(p, now)) for p in (*new, *changed) for b in p.brands],
    )
    return SaveCounts(new=len(new), updated=len(changed), unchanged=len(same))


def _raw_json(raw: Any) -> str:
    """The payload as JSON; lone surrogates (which SQLite cannot store) are escaped."""
    text = json.dumps(raw, default=str, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(raw, default=str)  # ASCII-only: "\ud800" stays a JSON escape
    return text


def _ts(p: Prepared, now: str) -> str:
    return to_iso(p.mention.published_at) if p.mention.published_at else now


def _content(p: Prepared, now: str) -> list[Any]:
    m = p.mention
    return [
        m.url, m.author_name, m.author_handle, m.author_followers, p.title, m.text, p.text,
        p.language, m.published_at and to_iso(m.published_at), _ts(p, now), m.likes, m.replies,
        m.reposts, m.quotes, m.rating, m.parent_id, m.thread_id,
        _raw_json(m.raw), p.content_hash,
    ]  # fmt: skip


def _insert_row(p: Prepared, now: str) -> list[Any]:
    m = p.mention
    c = _content(p, now)
    # column order of _MENTION_COLUMNS: identity, content (collected_at slotted in), version
    return [m.key, m.source, m.source_name, m.native_id, *c[:9], now, *c[9:], 1, now]


def _update_row(p: Prepared, now: str) -> list[Any]:
    c = _content(p, now)
    return [*c, now, p.mention.key]


def _engagement_row(p: Prepared) -> list[Any]:
    m = p.mention
    values = [m.author_followers, m.likes, m.replies, m.reposts, m.quotes]
    return [*values, m.key, *values]
