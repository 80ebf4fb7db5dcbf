"""Per-brand calibration: all of its SQL (table ``brand_calibration``, migration
``m006_brand_calibration``).

A brand's fitted cut on P(negative) lives in its own table; the corrections it is fitted on are
the dashboard's ``sentiment_corrections`` (the latest one per mention, and only while the
mention's text is the version the human judged). ``pending_thresholds`` gives the scorer each
pending mention's threshold: a mention of several calibrated brands gets the lowest (any brand
that would flag it, flags it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlite_utils import Database

from kuulo.clock import to_iso

CHUNK = 500

_CORRECTED = """
SELECT b.brand, m.id, m.text, m.language, m.rating, c.label
FROM sentiment_corrections c
JOIN mentions m ON m.id = c.mention_id AND m.version = c.mention_version
JOIN mention_brands b ON b.mention_id = m.id
WHERE c.id = (SELECT max(c2.id) FROM sentiment_corrections c2 WHERE c2.mention_id = c.mention_id)
"""

_RESET_BRAND = (
    "UPDATE mentions SET sentiment = NULL WHERE sentiment IS NOT NULL"
    " AND id IN (SELECT mention_id FROM mention_brands WHERE brand = ?)"
)


@dataclass(frozen=True, slots=True)
class CorrectedMention:
    """One brand's corrected mention: the text the human judged and their label."""

    brand: str
    mention_id: str
    text: str
    language: str | None
    rating: float | None
    label: str


class CalibrationStore(Protocol):
    """The calibration half of the store contract (see :class:`kuulo.store.Store`)."""

    def corrected_mentions(self, brand: str | None = None) -> list[CorrectedMention]: ...
    def brand_thresholds(self) -> dict[str, float]: ...
    def pending_thresholds(self, ids: Sequence[str]) -> dict[str, float]: ...
    def save_brand_threshold(
        self,
        brand: str,
        threshold: float,
        corrections: int,
        recall_target: float | None,
        details: dict[str, Any],
        now: datetime,
    ) -> int: ...
    def forget_brand_threshold(self, brand: str) -> int | None: ...


class CalibrationQueries:
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def corrected_mentions(self, brand: str | None = None) -> list[CorrectedMention]:
        """Each brand's corrected mentions (one row per mention and brand), by brand, oldest
        correction first."""
        where, params = (" AND b.brand = ?", [brand]) if brand else ("", [])
        rows = self.db.execute(f"{_CORRECTED}{where} ORDER BY b.brand, c.id", params)
        return [CorrectedMention(*row) for row in rows.fetchall()]

    def brand_thresholds(self) -> dict[str, float]:
        rows = self.db.execute("SELECT brand, negative_threshold FROM brand_calibration")
        return {brand: float(threshold) for brand, threshold in rows.fetchall()}

    def brand_calibrations(self) -> list[dict[str, Any]]:
        """Every stored calibration with its figures (``details`` as a dict)."""
        cur = self.db.execute("SELECT * FROM brand_calibration ORDER BY brand")
        names = [d[0] for d in cur.description]
        found = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return [{**row, "details": json.loads(row["details"])} for row in found]

    def pending_thresholds(self, ids: Sequence[str]) -> dict[str, float]:
        """Mention id -> the lowest threshold of its calibrated brands (absent: none)."""
        if not self.db.execute("SELECT 1 FROM brand_calibration LIMIT 1").fetchone():
            return {}  # the default path: no brand calibrated, no per-mention lookup
        found: dict[str, float] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            rows = self.db.execute(
                "SELECT b.mention_id, min(c.negative_threshold) FROM mention_brands b"
                " JOIN brand_calibration c ON c.brand = b.brand"
                f" WHERE b.mention_id IN ({', '.join('?' * len(chunk))}) GROUP BY b.mention_id",
                chunk,
            )
            found.update((mention_id, float(t)) for mention_id, t in rows.fetchall())
        return found

    def save_brand_threshold(
        self,
        brand: str,
        threshold: float,
        corrections: int,
        recall_target: float | None,
        details: dict[str, Any],
        now: datetime,
    ) -> int:
        """Store a brand's threshold and, in the same transaction, mark its scored mentions
        for re-scoring; returns how many were marked."""
        with self.write() as conn:
            conn.execute(
                "INSERT INTO brand_calibration (brand, negative_threshold, corrections,"
                " recall_target, details, fitted_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(brand) DO UPDATE SET"
                " negative_threshold = excluded.negative_threshold,"
                " corrections = excluded.corrections, recall_target = excluded.recall_target,"
                " details = excluded.details, fitted_at = excluded.fitted_at",
                [brand, threshold, corrections, recall_target, json.dumps(details), to_iso(now)],
            )
            cur = conn.execute(_RESET_BRAND, [brand])
        return cur.rowcount

    def forget_brand_threshold(self, brand: str) -> int | None:
        """Drop a brand's threshold (back to the scorer's own rules) and mark its scored
        mentions for re-scoring; returns how many were marked (None: it was not calibrated)."""
        with self.write() as conn:
            if not conn.execute("DELETE FROM brand_calibration WHERE brand = ?", [brand]).rowcount:
                return None
            cur = conn.execute(_RESET_BRAND, [brand])
        return cur.rowcount
