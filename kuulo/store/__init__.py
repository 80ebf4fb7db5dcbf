"""The store: all SQL lives in this package, behind the :class:`Store` protocol.

SQLite (through sqlite-utils) is the embedded default; a PostgreSQL backend can be added under
the same contract tests (``tests/kuulo/store``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from kuulo.alert_model import AlertIntent
from kuulo.model import Cursor, Score
from kuulo.normalise import Prepared
from kuulo.store.calibration import CalibrationStore, CorrectedMention
from kuulo.store.catalog import CatalogItem, CatalogStore
from kuulo.store.inbox import InboxStore
from kuulo.store.insights import InsightStore
from kuulo.store.outbox import OutboxStore
from kuulo.store.records import (
    MentionFilter,
    PendingScore,
    RunOutcome,
    SaveCounts,
    SourceState,
)
from kuulo.store.sqlite import SqliteStore
from kuulo.store.users import UserStore


class Store(
    OutboxStore, InboxStore, InsightStore, UserStore, CalibrationStore, CatalogStore, Protocol
):
    def migrate(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> None: ...

    # write side
    def sync_sources(self, sources: Sequence[tuple[str, str]], now: datetime) -> None: ...
    def source_state(self, name: str) -> SourceState | None: ...
    def due_sources(self, now: datetime) -> list[str]: ...
    def start_run(self, source_name: str, now: datetime) -> int: ...
    def finish_run(
        self,
        run_id: int,
        source_name: str,
        outcome: RunOutcome,
        *,
        now: datetime,
        next_due: datetime,
        paused_until: datetime | None = None,
    ) -> None: ...
    def save_batch(
        self, source_name: str, items: Sequence[Prepared], cursor: Cursor | None, now: datetime
    ) -> SaveCounts: ...
    def pending_scores(self, limit: int) -> list[PendingScore]: ...
    def count_pending(self) -> int: ...
    def save_scores(
        self,
        scored: Sequence[tuple[PendingScore, Score]],
        now: datetime,
        alerts: Sequence[AlertIntent] = (),
    ) -> int: ...
    def reset_scores(self, model: str, version: str, *, everything: bool = False) -> int: ...

    # read side
    def mentions(
        self, f: MentionFilter, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]: ...
    def count_mentions(self, f: MentionFilter) -> int: ...
    def daily_sentiment(self, f: MentionFilter) -> list[dict[str, Any]]: ...
    def export_rows(self, f: MentionFilter, batch: int = 1000) -> Iterator[dict[str, Any]]: ...
    def source_status(self) -> list[dict[str, Any]]: ...
    def distinct_values(self, column: str) -> list[str]: ...


def open_store(path: Path | str, *, read_only: bool = False, migrate: bool = True) -> Store:
    """Open the database at ``path``; writers apply pending migrations first."""
    store = SqliteStore(path, read_only=read_only)
    if migrate and not read_only:
        store.migrate()
    return store


__all__ = [
    "CatalogItem",
    "CorrectedMention",
    "MentionFilter",
    "PendingScore",
    "RunOutcome",
    "SaveCounts",
    "SourceState",
    "SqliteStore",
    "Store",
    "open_store",
]
