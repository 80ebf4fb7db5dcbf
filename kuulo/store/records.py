"""Plain records the store takes and returns (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kuulo.model import Cursor


@dataclass(frozen=True, slots=True)
class SaveCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    kind: str
    next_due: datetime
    cursor: Cursor | None
    last_run_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    paused_until: datetime | None
    failures: int


@dataclass(slots=True)
class RunOutcome:
    """What one collector run did; written to ``runs`` when it ends."""

    status: str = "ok"  # ok | not_modified | error
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skip_reasons: list[str] = field(default_factory=list)
    error: str | None = None

    def add(self, counts: SaveCounts) -> None:
        self.new += counts.new
        self.updated += counts.updated
        self.unchanged += counts.unchanged


@dataclass(frozen=True, slots=True)
class PendingScore:
    id: str
    version: int
    text: str
    language: str | None
    rating: float | None = None  # review stars: evidence for the scorer beside the text


@dataclass(frozen=True, slots=True)
class MentionFilter:
    """The filters the dashboard, export and CLI share. Times are UTC-aware."""

    brands: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # full-text (FTS5 query syntax)
