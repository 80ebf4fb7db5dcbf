"""The SQLite store against real files: schema and connection.
Helpers live in ``store_support``; the ``store`` fixture in ``conftest``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kuulo.store import MentionFilter, SqliteStore, open_store
from kuulo.store.migrations import migrations
from tests.kuulo.store.store_support import NOW, SOURCE, open_sqlite, other_connection, prep, query

# -- schema and connection ---------------------------------------------------------------------


def test_migrations_build_the_schema_and_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "new" / "kuulo.db"
    with open_sqlite(path) as store:
        assert {"mentions", "mention_brands", "sources", "runs", "mentions_fts"} <= set(
            store.db.table_names()
        )
        assert migrations.pending(store.db) == []
        applied = query(store, "SELECT name, applied_at FROM _sqlite_migrations")
        assert [a[0] for a in applied] == [m.name for m in migrations._migrations]
        store.sync_sources([(SOURCE, "rss")], NOW)
        store.save_batch(SOURCE, [prep("1", "Acme news")], None, NOW)
    for _ in range(2):
        with open_sqlite(path) as store:
            assert query(store, "SELECT name, applied_at FROM _sqlite_migrations") == applied
            assert store.count_mentions(MentionFilter()) == 1


def test_connection_uses_wal_a_busy_timeout_and_foreign_keys(store: SqliteStore) -> None:
    assert query(store, "PRAGMA journal_mode") == [("wal",)]
    assert query(store, "PRAGMA busy_timeout")[0][0] >= 5000
    assert query(store, "PRAGMA foreign_keys") == [(1,)]
    assert query(store, "PRAGMA synchronous") == [(1,)]  # NORMAL


def test_read_only_store_cannot_write(store: SqliteStore) -> None:
    with open_store(store.path, read_only=True) as reader:
        assert isinstance(reader, SqliteStore)
        assert reader.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.sync_sources([("x", "rss")], NOW)


def test_new_database_opened_by_several_processes_at_once(tmp_path: Path) -> None:
    """Each opener switches to WAL and migrates; the late ones must wait, not fail."""
    for attempt in range(5):
        path = tmp_path / str(attempt) / "kuulo.db"
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                open_store(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with open_sqlite(path) as store:
            assert len(query(store, "SELECT * FROM _sqlite_migrations")) == len(
                migrations._migrations
            )
            assert query(store, "PRAGMA journal_mode") == [("wal",)]


def test_write_takes_the_write_lock_at_begin(store: SqliteStore) -> None:
    other = other_connection(store.path)
    with store.write() as conn:
        assert conn.in_transaction
        # Nothing written yet: only BEGIN IMMEDIATE (not a deferred BEGIN) holds the lock now.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    assert not store.db.conn.in_transaction
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_a_writer_waits_for_another_writer_then_succeeds(store: SqliteStore) -> None:
    other = other_connection(store.path)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE sources SET failures = 7 WHERE name = 'blog'")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    counts = store.save_batch(SOURCE, [prep("1", "Acme news")], {"etag": "a"}, NOW)
    waited = time.monotonic() - started
    release.join()
    other.close()
    assert waited >= 0.25
    assert counts.new == 1
    assert store.count_mentions(MentionFilter()) == 1
    assert query(store, "SELECT failures FROM sources WHERE name = 'blog'") == [(7,)]


def test_error_that_ends_the_transaction_itself_is_reported_as_is(store: SqliteStore) -> None:
    """SQLite rolls back by itself on an interrupt (also disk full, I/O errors): the original
    error must surface, not "cannot rollback - no transaction is active"."""
    fired: list[bool] = []

    def interrupt_once() -> int:
        if fired:
            return 0
        fired.append(True)
        return 1

    def interrupted_write() -> None:
        with store.write() as conn:
            conn.execute("UPDATE sources SET failures = 5")
            conn.set_progress_handler(interrupt_once, 1)
            conn.execute("UPDATE sources SET failures = 6")

    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        interrupted_write()
    store.db.conn.set_progress_handler(None, 1)
    assert not store.db.conn.in_transaction
    assert query(store, "SELECT DISTINCT failures FROM sources") == [(0,)]
    store.save_batch(SOURCE, [prep("1", "Acme")], None, NOW)  # the next write works


def test_failed_commit_releases_the_write_lock(store: SqliteStore) -> None:
    def unchecked_write() -> None:
        with store.write() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
            conn.execute("INSERT INTO mention_brands VALUES ('none', 'Acme', 'x')")

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        unchecked_write()
    assert not store.db.conn.in_transaction
    other = other_connection(store.path)
    other.execute("BEGIN IMMEDIATE")  # would be "database is locked" if the lock were kept
    other.execute("ROLLBACK")
    other.close()
    assert query(store, "SELECT count(*) FROM mention_brands") == [(0,)]
