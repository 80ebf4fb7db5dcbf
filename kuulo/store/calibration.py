"""Per-brand, per-language calibration: all of its SQL (tables ``brand_calibration`` and
``calibration_checks``, migrations ``m006_brand_calibration`` and
``m009_calibration_per_language``).

A brand's fitted cut on P(negative) lives in ``brand_calibration``, keyed by (brand, language):
the models of different languages put P(negative) on different scales, so a threshold fitted on
English corrections must not cut Finnish mentions. ``language`` is the mention's stored
language, lower-cased (``''``: unknown), or ``'*'``: any language. ``'*'`` rows are the ones
fitted before m009, on all of a brand's corrections at once; they are kept (nothing is lost)
and apply to the languages that have no threshold of their own, until a per-language fit
replaces them language by language or ``kuulo sentiment calibrate --forget`` drops them.

The corrections are the dashboard's ``sentiment_corrections`` (the latest one per mention, and
only while the mention's text is the version the human judged). ``pending_thresholds`` gives
the scorer each pending mention's threshold: its language's, else the brand's ``'*'`` one; a
mention of several calibrated brands gets the lowest (any brand that would flag it, flags it).
``calibration_checks`` remembers, per (brand, language), how many corrected mentions the last
fit saw (stored or not) and with which scorer version, so automatic refits run once per step;
its row with brand ``''`` (no brand has an empty name) is the scan mark instead: the last
correction id an automatic scan saw, and with what scorer and settings
(:meth:`CalibrationQueries.calibration_scan`), so a tick with no new correction costs one
``max(id)``.
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
ANY_LANGUAGE = "*"
_SCAN = ("", "*")  # calibration_checks' (brand, language) of the scan mark
# The language key of a mention: what brand_calibration.language matches.
_LANGUAGE = "lower(coalesce(m.language, ''))"

_CORRECTED = f"""
SELECT b.brand, m.id, m.text, m.language, m.rating, c.label, {_LANGUAGE} AS lang
FROM sentiment_corrections c
JOIN mentions m ON m.id = c.mention_id AND m.version = c.mention_version
JOIN mention_brands b ON b.mention_id = m.id
WHERE c.id = (SELECT max(c2.id) FROM sentiment_corrections c2 WHERE c2.mention_id = c.mention_id)
"""

_RESET_BRAND = (
    "UPDATE mentions SET sentiment = NULL WHERE sentiment IS NOT NULL"
    " AND id IN (SELECT mention_id FROM mention_brands WHERE brand = ?)"
)
_RESET_LANGUAGE = f"{_RESET_BRAND} AND lower(coalesce(language, '')) = ?"


def language_key(code: str | None) -> str:
    """A mention's language as ``brand_calibration.language`` stores it (``''``: unknown)."""
    return (code or "").lower()


@dataclass(frozen=True, slots=True)
class CorrectedMention:
    """One brand's corrected mention: the text the human judged and their label."""

    brand: str
    mention_id: str
    text: str
    language: str | None
    rating: float | None
    label: str

    @property
    def language_key(self) -> str:
        return language_key(self.language)


@dataclass(frozen=True, slots=True)
class CalibrationCheck:
    """The last fit of one (brand, language): on how many corrected mentions, with which
    scorer version, and whether it stored a threshold."""

    corrections: int
    scorer_version: str
    outcome: str  # stored | kept | skipped


class CalibrationStore(Protocol):
    """The calibration half of the store contract (see :class:`kuulo.store.Store`)."""

    def corrected_mentions(
        self, brand: str | None = None, language: str | None = None
    ) -> list[CorrectedMention]: ...
    def correction_watermark(self) -> tuple[int, int]: ...
    def calibration_scan(self) -> tuple[int, str] | None: ...
    def record_calibration_scan(self, last_id: int, key: str, now: datetime) -> None: ...
    def corrected_counts(self) -> dict[tuple[str, str], int]: ...
    def brand_thresholds(self) -> dict[tuple[str, str], float]: ...
    def pending_thresholds(self, ids: Sequence[str]) -> dict[str, float]: ...
    def save_brand_threshold(
        self,
        brand: str,
        language: str,
        threshold: float,
        corrections: int,
        recall_target: float | None,
        details: dict[str, Any],
        now: datetime,
    ) -> int: ...
    def forget_brand_threshold(self, brand: str, language: str | None = None) -> int | None: ...
    def calibration_checks(self) -> dict[tuple[str, str], CalibrationCheck]: ...
    def record_calibration_check(
        self, brand: str, language: str, check: CalibrationCheck, now: datetime
    ) -> None: ...


class CalibrationQueries:
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def corrected_mentions(
        self, brand: str | None = None, language: str | None = None
    ) -> list[CorrectedMention]:
        """Each brand's corrected mentions (one row per mention and brand), by brand and
        language, oldest correction first; ``language`` as :func:`language_key` writes it."""
        where, params = "", []
        if brand:
            where, params = " AND b.brand = ?", [brand]
        if language is not None:
            where, params = f"{where} AND {_LANGUAGE} = ?", [*params, language_key(language)]
        rows = self.db.execute(f"{_CORRECTED}{where} ORDER BY b.brand, lang, c.id", params)
        return [CorrectedMention(*row[:6]) for row in rows.fetchall()]

    def correction_watermark(self) -> tuple[int, int]:
        """(correction rows, the latest correction id): the cheap first check of a refit."""
        row = self.db.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM sentiment_corrections"
        ).fetchone()
        return int(row[0]), int(row[1])

    def calibration_scan(self) -> tuple[int, str] | None:
        """(latest correction id, key) of the last automatic scan; None: never scanned."""
        row = self.db.execute(
            "SELECT corrections, scorer_version FROM calibration_checks"
            " WHERE brand = ? AND language = ?",
            _SCAN,
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def record_calibration_scan(self, last_id: int, key: str, now: datetime) -> None:
        check = CalibrationCheck(last_id, key, "scan")
        self.record_calibration_check(*_SCAN, check, now)

    def corrected_counts(self) -> dict[tuple[str, str], int]:
        """(brand, language) -> corrected mentions that count (as ``corrected_mentions``)."""
        rows = self.db.execute(f"SELECT brand, lang, count(*) FROM ({_CORRECTED}) GROUP BY 1, 2")
        return {(brand, lang): int(n) for brand, lang, n in rows.fetchall()}

    def brand_thresholds(self) -> dict[tuple[str, str], float]:
        """(brand, language) -> stored threshold; language ``'*'``: any language."""
        rows = self.db.execute("SELECT brand, language, negative_threshold FROM brand_calibration")
        return {(brand, lang): float(t) for brand, lang, t in rows.fetchall()}

    def brand_calibrations(self) -> list[dict[str, Any]]:
        """Every stored calibration with its figures (``details`` as a dict)."""
        cur = self.db.execute("SELECT * FROM brand_calibration ORDER BY brand, language")
        names = [d[0] for d in cur.description]
        found = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return [{**row, "details": json.loads(row["details"])} for row in found]

    def pending_thresholds(self, ids: Sequence[str]) -> dict[str, float]:
        """Mention id -> the lowest threshold of its calibrated brands for its language (a
        brand's ``'*'`` row when it has none for that language); absent: none."""
        if not self.db.execute("SELECT 1 FROM brand_calibration LIMIT 1").fetchone():
            return {}  # the default path: no brand calibrated, no per-mention lookup
        found: dict[str, float] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            rows = self.db.execute(
                "SELECT b.mention_id, min(coalesce("
                " (SELECT c.negative_threshold FROM brand_calibration c"
                f"  WHERE c.brand = b.brand AND c.language = {_LANGUAGE}),"
                " (SELECT c.negative_threshold FROM brand_calibration c"
                "  WHERE c.brand = b.brand AND c.language = '*')))"
                " FROM mention_brands b JOIN mentions m ON m.id = b.mention_id"
                f" WHERE b.mention_id IN ({', '.join('?' * len(chunk))}) GROUP BY b.mention_id",
                chunk,
            )
            found.update((i, float(t)) for i, t in rows.fetchall() if t is not None)
        return found

    def save_brand_threshold(
        self,
        brand: str,
        language: str,
        threshold: float,
        corrections: int,
        recall_target: float | None,
        details: dict[str, Any],
        now: datetime,
    ) -> int:
        """Store a brand's threshold for one language and, in the same transaction, mark its
        scored mentions in that language for re-scoring; returns how many were marked."""
        with self.write() as conn:
            conn.execute(
                "INSERT INTO brand_calibration (brand, language, negative_threshold,"
                " corrections, recall_target, details, fitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(brand, language) DO UPDATE SET"
                " negative_threshold = excluded.negative_threshold,"
                " corrections = excluded.corrections, recall_target = excluded.recall_target,"
                " details = excluded.details, fitted_at = excluded.fitted_at",
                [brand, language, threshold, corrections, recall_target, json.dumps(details),
                 to_iso(now)],
            )  # fmt: skip
            cur = _reset(conn, brand, language)
        return cur.rowcount

    def forget_brand_threshold(self, brand: str, language: str | None = None) -> int | None:
        """Drop a brand's thresholds (``language``: only that one) and mark the mentions they
        cut for re-scoring; returns how many were marked (None: nothing was calibrated). The
        last fits stay recorded: an automatic refit comes only after the next step of
        corrections, not at the next tick."""
        where, params = (
            ("", [brand]) if language is None else (" AND language = ?", [brand, language])
        )
        with self.write() as conn:
            sql = f"DELETE FROM brand_calibration WHERE brand = ?{where}"
            if not conn.execute(sql, params).rowcount:
                return None
            cur = _reset(conn, brand, ANY_LANGUAGE if language is None else language)
        return cur.rowcount

    def calibration_checks(self) -> dict[tuple[str, str], CalibrationCheck]:
        rows = self.db.execute(
            "SELECT brand, language, corrections, scorer_version, outcome FROM calibration_checks"
            " WHERE brand != ''"
        )
        return {(b, lang): CalibrationCheck(int(n), v, o) for b, lang, n, v, o in rows.fetchall()}

    def record_calibration_check(
        self, brand: str, language: str, check: CalibrationCheck, now: datetime
    ) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO calibration_checks (brand, language, corrections, scorer_version,"
                " outcome, checked_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(brand, language) DO UPDATE SET"
                " corrections = excluded.corrections, scorer_version = excluded.scorer_version,"
                " outcome = excluded.outcome, checked_at = excluded.checked_at",
                [brand, language, check.corrections, check.scorer_version, check.outcome,
                 to_iso(now)],
            )  # fmt: skip


def _reset(conn: sqlite3.Connection, brand: str, language: str) -> sqlite3.Cursor:
    if language == ANY_LANGUAGE:
        return conn.execute(_RESET_BRAND, [brand])
    return conn.execute(_RESET_LANGUAGE, [brand, language])


def migrate_per_language(db: Database) -> None:
    """m009: key ``brand_calibration`` by (brand, language); every existing row becomes the
    brand's ``'*'`` (any language) row, as it was fitted on all languages at once. Adds
    ``calibration_checks``. One statement per execute: the migration runs in a transaction."""
    db.execute(
        """
        CREATE TABLE brand_calibration_m009 (
            brand TEXT NOT NULL,
            language TEXT NOT NULL,           -- lower-cased mention language; '' unknown; '*' any
            negative_threshold REAL NOT NULL, -- cut on the scorer's P(negative)
            corrections INTEGER NOT NULL,     -- corrected mentions it was fitted on
            recall_target REAL,               -- NULL: fitted for the best negative F1
            details TEXT NOT NULL DEFAULT '{}', -- JSON: before/after precision, recall, F1
            fitted_at TEXT NOT NULL,
            PRIMARY KEY (brand, language)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        "INSERT INTO brand_calibration_m009 (brand, language, negative_threshold, corrections,"
        " recall_target, details, fitted_at) SELECT brand, '*', negative_threshold, corrections,"
        " recall_target, details, fitted_at FROM brand_calibration"
    )
    db.execute("DROP TABLE brand_calibration")
    db.execute("ALTER TABLE brand_calibration_m009 RENAME TO brand_calibration")
    db.execute(
        """
        CREATE TABLE calibration_checks (
            brand TEXT NOT NULL,
            language TEXT NOT NULL,
            corrections INTEGER NOT NULL,     -- corrected mentions the last fit saw
            scorer_version TEXT NOT NULL,     -- the scorer it fitted against
            outcome TEXT NOT NULL,            -- stored | kept | skipped; scan (brand '')
            checked_at TEXT NOT NULL,
            PRIMARY KEY (brand, language)
        ) WITHOUT ROWID
        """
    )
