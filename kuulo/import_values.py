"""Reading the values of an import row: dates, star ratings and counts.

Part of ``kuulo import`` (:mod:`kuulo.importer` runs the import). A value that is present but
unreadable raises :class:`RowError`, which skips its row with the reason.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime, timedelta

MAX_FUTURE = timedelta(days=1)
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_SCALED = re.compile(rf"{_NUMBER}\s*(?:/|out of|of)\s*{_NUMBER}", re.IGNORECASE)
_PLAIN = re.compile(rf"{_NUMBER}\s*(?:stars?)?", re.IGNORECASE)
_STARS = frozenset("★☆⭐✩✭")
_DMY = re.compile(
    r"(\d{1,2})([./])(\d{1,2})\2(\d{4})(?:[ T,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
)
_NAMED_FORMATS = (
    "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y %I:%M %p", "%B %d, %Y %I:%M %p",
    "%d %b %Y %H:%M", "%d %B %Y %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
)  # fmt: skip


class RowError(ValueError):
    """Why a row is skipped; ``kind`` is the value-free reason kept in the run log."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind or reason


def parse_date(value: object, now: datetime) -> tuple[datetime | None, str | None]:
    """UTC time (naive means UTC) and a note; RowError when present but unreadable.

    ISO 8601 first, then epoch seconds/milliseconds, ``20.11.2026 14:03``, ``11/20/2026``
    (refused when day and month could be swapped), RFC 2822 and ``Nov 20, 2026``. A date more
    than a day ahead is an exporter's error: the row is kept without a date, with a note.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    when = _to_datetime(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > now + MAX_FUTURE:
        return None, f"date {value!r} is in the future; stored without a date"
    return when, None


def _to_datetime(value: object) -> datetime:
    bad = RowError(f"unparsable date {value!r}", "unparsable date")
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        if not isinstance(value, str):
            raise bad
        text = value.strip()
        if text.isdigit() and len(text) in (10, 13):
            return datetime.fromtimestamp(int(text) / (1000 if len(text) == 13 else 1), UTC)
        for attempt in (datetime.fromisoformat, _day_month, email.utils.parsedate_to_datetime):
            try:
                return attempt(text)
            except RowError:
                raise  # ambiguous: a reason of its own
            except (ValueError, TypeError, IndexError):
                continue
        for fmt in _NAMED_FORMATS:
            try:
                return datetime.strptime(text, fmt)  # noqa: DTZ007  (naive is UTC, see caller)
            except ValueError:
                continue
    except RowError:
        raise
    except (OverflowError, OSError, ValueError):
        raise bad from None
    raise bad


def _day_month(text: str) -> datetime:
    """``20.11.2026`` (always day first) or ``20/11/2026`` / ``11/20/2026`` (whichever is valid)."""
    m = _DMY.fullmatch(text)
    if not m:
        raise ValueError(text)
    a, sep, b, year = int(m[1]), m[2], int(m[3]), int(m[4])
    if sep == "/" and a <= 12 and b <= 12 and a != b:
        raise RowError(
            f"ambiguous date {text!r} (day/month or month/day?): use ISO 8601, e.g. "
            f"{year}-{b:02d}-{a:02d}",
            "ambiguous date",
        )
    day, month = (b, a) if sep == "/" and b > 12 else (a, b)
    hour, minute, second = (int(m[i] or 0) for i in (5, 6, 7))
    return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001  (UTC, see caller)


def parse_rating(value: object) -> float | None:
    """Stars as a number: ``4``, ``4,5``, ``"4/5"`` and ``8/10`` (scaled to 5), ``★★★★☆``."""
    bad = RowError(f"rating {value!r} is not a number", "rating is not a number")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        rating = float(value)
    elif isinstance(value, str):
        text = value.strip()
        compact = text.replace(" ", "")
        if set(compact) <= _STARS:
            return float(sum(c in "★⭐✭" for c in compact))
        if m := _SCALED.fullmatch(text):
            top, scale = (float(g.replace(",", ".")) for g in m.groups())
            rating = top / scale * 5 if scale else math.nan
        elif m := _PLAIN.fullmatch(text):
            rating = float(m[1].replace(",", "."))
        else:
            raise bad
    else:
        raise bad
    if not math.isfinite(rating) or rating < 0:
        raise bad
    return rating


def parse_count(value: object, name: str) -> int | None:
    """A non-negative whole number; ``"1,234"`` and ``"1 234"`` are accepted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        digits = re.sub(r"[\s,'\u00a0\u202f]", "", value)
        if digits.isdigit():
            return int(digits)
    raise RowError(f"{name} {value!r} is not a whole number", f"{name} is not a whole number")
