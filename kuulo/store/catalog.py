"""Brands, sources and alert rules created in the dashboard: all of their SQL (table
``catalog_items``, migration ``m008_catalog``).

Each item is stored as the same mapping a ``[[brands]]``, ``[[sources]]`` or ``[[rules]]`` table
of the config file holds, as JSON, so one set of pydantic models validates both (the merge lives
in ``kuulo/catalog.py``). Items from the config file are never stored here; ``paused`` may also
be set for a config *rule* (an override row with an empty body), so staff can pause any rule.
``catalog_revision`` counts every change, so a running service knows when to reload.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlite_utils import Database

from kuulo.clock import to_iso

CatalogKind = Literal["brand", "source", "rule"]
KINDS: tuple[CatalogKind, ...] = ("brand", "source", "rule")


def create_schema(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE catalog_items (
            kind TEXT NOT NULL,               -- brand | source | rule
            name TEXT NOT NULL,
            body TEXT NOT NULL,               -- JSON: the config table's mapping; '{}' = override
            paused INTEGER NOT NULL DEFAULT 0,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (kind, name)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE TABLE catalog_revision (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER)")
    db.execute("INSERT INTO catalog_revision (id, n) VALUES (1, 0)")


@dataclass(frozen=True)
class CatalogItem:
    kind: CatalogKind
    name: str
    body: dict[str, Any]
    paused: bool
    updated_by: str
    updated_at: str

    @property
    def is_override(self) -> bool:
        """A pause flag for an item that lives in the config file (no body of its own)."""
        return not self.body


class CatalogStore(Protocol):
    def catalog_items(self, kind: CatalogKind | None = None) -> list[CatalogItem]: ...
    def catalog_revision(self) -> int: ...
    def save_catalog_item(
        self, kind: CatalogKind, name: str, body: dict[str, Any], actor: str, now: datetime
    ) -> None: ...
    def rename_catalog_item(
        self, kind: CatalogKind, old: str, new: str, actor: str, now: datetime
    ) -> None: ...
    def delete_catalog_item(self, kind: CatalogKind, name: str) -> bool: ...
    def set_catalog_paused(
        self, kind: CatalogKind, name: str, paused: bool, actor: str, now: datetime
    ) -> None: ...


class CatalogQueries:
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def catalog_items(self, kind: CatalogKind | None = None) -> list[CatalogItem]:
        sql = "SELECT * FROM catalog_items"
        params: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        cur = self.db.execute(sql + " ORDER BY kind, name", params)
        columns = [c[0] for c in cur.description]
        items = []
        for row in cur.fetchall():
            r = dict(zip(columns, row, strict=True))
            r["body"] = json.loads(r["body"])
            r["paused"] = bool(r["paused"])
            items.append(CatalogItem(**r))
        return items

    def catalog_revision(self) -> int:
        row = self.db.execute("SELECT n FROM catalog_revision WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def save_catalog_item(
        self, kind: CatalogKind, name: str, body: dict[str, Any], actor: str, now: datetime
    ) -> None:
        """Create or replace an item (the caller validated ``body``; its pause flag is kept)."""
        _check_kind(kind)
        with self.write() as conn:
            conn.execute(
                "INSERT INTO catalog_items (kind, name, body, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(kind, name) DO UPDATE SET"
                " body = excluded.body, updated_by = excluded.updated_by,"
                " updated_at = excluded.updated_at",
                [kind, name, json.dumps(body, sort_keys=True), actor, to_iso(now)],
            )
            _bump(conn)

    def rename_catalog_item(
        self, kind: CatalogKind, old: str, new: str, actor: str, now: datetime
    ) -> None:
        _check_kind(kind)
        with self.write() as conn:
            conn.execute(
                "UPDATE catalog_items SET name = ?, updated_by = ?, updated_at = ?"
                " WHERE kind = ? AND name = ?",
                [new, actor, to_iso(now), kind, old],
            )
            _bump(conn)

    def delete_catalog_item(self, kind: CatalogKind, name: str) -> bool:
        _check_kind(kind)
        with self.write() as conn:
            sql = "DELETE FROM catalog_items WHERE kind = ? AND name = ?"
            cur = conn.execute(sql, [kind, name])
            _bump(conn)
        return cur.rowcount > 0

    def set_catalog_paused(
        self, kind: CatalogKind, name: str, paused: bool, actor: str, now: datetime
    ) -> None:
        """Pause or resume an item; for a config item this writes an override row."""
        _check_kind(kind)
        with self.write() as conn:
            conn.execute(
                "INSERT INTO catalog_items (kind, name, body, paused, updated_by, updated_at)"
                " VALUES (?, ?, '{}', ?, ?, ?) ON CONFLICT(kind, name) DO UPDATE SET"
                " paused = excluded.paused, updated_by = excluded.updated_by,"
                " updated_at = excluded.updated_at",
                [kind, name, int(paused), actor, to_iso(now)],
            )
            conn.execute(
                "DELETE FROM catalog_items WHERE kind = ? AND name = ? AND body = '{}'"
                " AND paused = 0",
                [kind, name],
            )
            _bump(conn)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown catalog kind {kind!r} (use one of: {', '.join(KINDS)})")


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE catalog_revision SET n = n + 1 WHERE id = 1")
