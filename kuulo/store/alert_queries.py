"""Alert read side and small state: outbox summaries for the CLI, per-key alert state
(spike episodes), and the statistics the periodic checks need (hourly brand volumes, source
health). All SQL; no decisions (those are in ``kuulo/watch.py`` and ``kuulo/spikes.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlite_utils import Database

from kuulo.clock import to_iso
from kuulo.store.insights import brand_raw_rows
from kuulo.store.summaries import SummaryFilter, counted_rows


class AlertReadStore(Protocol):
    def get_alert_state(self, key: str) -> dict[str, Any] | None: ...
    def set_alert_state(self, key: str, value: dict[str, Any], now: datetime) -> None: ...
    def alert_counts(self) -> dict[str, int]: ...
    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]: ...
    def alert_rows(self, limit: int = 1000) -> list[dict[str, Any]]: ...
    def channel_states(self) -> dict[str, dict[str, Any]]: ...
    def alert_attempts(self, limit: int = 1000) -> list[dict[str, Any]]: ...
    def recent_attempts(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def source_health(self) -> list[dict[str, Any]]: ...
    def hourly_brand_counts(
        self, brand: str, since: datetime, until: datetime
    ) -> dict[str, tuple[int, int]]: ...
    def first_mention_at(self, brand: str) -> str | None: ...


class AlertQueries:
    """Mixed into the SQLite store (through ``OutboxQueries``)."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def get_alert_state(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM alert_state WHERE key = ?", [key]).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_alert_state(self, key: str, value: dict[str, Any], now: datetime) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO alert_state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                [key, json.dumps(value, sort_keys=True), to_iso(now)],
            )

    # -- read side --------------------------------------------------------------------------

    def alert_counts(self) -> dict[str, int]:
        """pending / retrying / sending / sent / dead, plus ambiguous sends ever recorded."""
        counts = dict.fromkeys(("pending", "retrying", "sending", "sent", "dead"), 0)
        rows = self.db.execute(
            "SELECT CASE WHEN status = 'pending' AND attempts > 0 THEN 'retrying'"
            " ELSE status END, count(*) FROM alert_outbox GROUP BY 1"
        ).fetchall()
        counts.update({r[0]: r[1] for r in rows})
        counts["ambiguous"] = self.db.execute(
            "SELECT count(*) FROM alert_attempts WHERE outcome = 'ambiguous'"
        ).fetchone()[0]
        return counts

    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._outbox_rows("status = 'dead'", "dead_at DESC, id DESC", limit)

    def alert_rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        return self._outbox_rows("1", "id", limit)

    def channel_states(self) -> dict[str, dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM alert_channels")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}

    def alert_attempts(self, limit: int = 1000) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM alert_attempts ORDER BY id LIMIT ?", [limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def recent_attempts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The delivery log, newest first: one row per send attempt (errors are scrubbed)."""
        cur = self.db.execute("SELECT * FROM alert_attempts ORDER BY id DESC LIMIT ?", [limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def _outbox_rows(self, where: str, order: str, limit: int) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT id, alert_key, channel, target, rule, kind, status, attempts, created_at,"
            f" due_at, sent_at, dead_at, last_error FROM alert_outbox WHERE {where}"
            f" ORDER BY {order} LIMIT ?",
            [limit],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- statistics for periodic checks ------------------------------------------------------

    def source_health(self) -> list[dict[str, Any]]:
        """Schedule state per source (cheap: no mention counts)."""
        cur = self.db.execute(
            "SELECT name, kind, last_run_at, last_ok_at, last_error, paused_until, failures"
            " FROM sources ORDER BY name"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def hourly_brand_counts(
        self, brand: str, since: datetime, until: datetime
    ) -> dict[str, tuple[int, int]]:
        """``{"2026-11-25T12": (mentions, negatives)}`` per UTC hour in [since, until), blocked
        authors and sites left out (a blocked spammer's flood is no spike). Whole hours come
        from the per-brand hourly summary, the partial first and last hour from the mentions."""
        summary = SummaryFilter(brand=brand, hidden=0, since=since, until=until)
        sql, params = counted_rows(summary, partial(brand_raw_rows, brand), days=False)
        rows = self.db.execute(
            f"SELECT at, sum(n), sum(CASE WHEN sentiment = 'negative' THEN n ELSE 0 END)"
            f" FROM ({sql}) GROUP BY at HAVING sum(n) > 0",
            params,
        ).fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def first_mention_at(self, brand: str) -> str | None:
        row = self.db.execute(
            "SELECT min(ts) FROM mention_brands WHERE brand = ?", [brand]
        ).fetchone()
        return None if row is None else row[0]
