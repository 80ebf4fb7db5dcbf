"""Helpers shared by the ``test_store*.py`` modules.

The SQLite store against real files: schema, upserts, cursors, run log, scores, FTS, export.

These are the contract tests a second backend must also pass (see ``kuulo/store/__init__.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kuulo.matching import Brand, BrandQuery
from kuulo.model import Mention, Score
from kuulo.normalise import Prepared, prepare
from kuulo.store import MentionFilter, SqliteStore, open_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
BRANDS = [Brand("Acme", BrandQuery("Acme OR @acme")), Brand("Globex", BrandQuery("Globex"))]
SOURCE = "news"


# -- helpers ------------------------------------------------------------------------------------


def mention(native_id: str, text: str, **fields: Any) -> Mention:
    fields.setdefault("language", "en")  # skips language detection: fast and deterministic
    fields.setdefault("published_at", NOW - timedelta(hours=1))
    fields.setdefault("source_name", SOURCE)
    return Mention(
        source="rss", native_id=native_id, url=f"https://news.example/{native_id}", text=text,
        **fields,
    )  # fmt: skip


def prep(native_id: str, text: str, **fields: Any) -> Prepared:
    return prepare(mention(native_id, text, **fields), BRANDS)


def open_sqlite(path: Path) -> SqliteStore:
    store = open_store(path)
    assert isinstance(store, SqliteStore)
    return store


def query(store: SqliteStore, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return store.db.execute(sql, list(params)).fetchall()


def row(store: SqliteStore, key: str) -> dict[str, Any]:
    cur = store.db.execute("SELECT * FROM mentions WHERE id = ?", [key])
    names = [d[0] for d in cur.description]
    found = cur.fetchone()
    assert found is not None, f"no mention {key}"
    return dict(zip(names, found, strict=True))


def brand_links(store: SqliteStore) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in query(store, "SELECT mention_id, brand FROM mention_brands")}


def search(store: SqliteStore, words: str) -> list[str]:
    return sorted(r["id"] for r in store.mentions(MentionFilter(search=words), limit=10_000))


def fts_integrity(store: SqliteStore) -> None:
    """Raises if the external-content FTS index disagrees with the mentions table."""
    store.db.execute("INSERT INTO mentions_fts(mentions_fts, rank) VALUES ('integrity-check', 1)")


def score(label: str = "negative", model: str = "vader", version: str = "1") -> Score:
    return Score(label, -0.5 if label == "negative" else 0.5, model, version)  # type: ignore[arg-type]


def other_connection(path: Path, timeout: float = 0.0) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
