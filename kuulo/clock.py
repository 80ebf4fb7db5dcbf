"""Time helpers: every stored timestamp is UTC text in one sortable format."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """Aware datetime -> ``2026-11-25T08:51:12Z`` (sorts as text; naive input is refused)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: kuulo stores only tz-aware UTC times")
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)
