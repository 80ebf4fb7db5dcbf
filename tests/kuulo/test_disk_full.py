"""reliability.md F15: the disk fills up during a collection run.

Simulated with ``PRAGMA max_page_count`` on every connection the store opens (the file may
not grow past its current size). Expected: the run fails with a clear error, the batch and its
cursor are not stored (so nothing is skipped later), the file is not corrupted, and once space
is back the next run stores everything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from kuulo.pipeline import collect_source
from kuulo.store import SqliteStore, open_store
from kuulo.store import sqlite as store_sqlite
from tests.kuulo.test_pipeline import last_run, make_runtime, serve_feed, source, stored
from tests.support import opened


def big_feed(items: int = 300) -> bytes:
    """More than the free space left in the file's pages: the batch must grow the file."""
    body = " ".join(["Acme anvils arrived broken again."] * 60)
    entries = "".join(
        f"<item><guid>acme-{n}</guid><title>Acme order {n}</title>"
        f"<link>https://blog.example.com/acme-{n}</link><description>{body} #{n}</description>"
        "<pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>"
        for n in range(items)
    )
    channel = f"<channel><title>Acme blog</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def page_limit(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    """Every new store connection may use at most ``pages`` pages: a full disk."""
    real = store_sqlite.connect

    def limited(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
        conn = real(path, read_only=read_only)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store_sqlite, "connect", limited)


def test_a_full_disk_stores_nothing_half_and_loses_nothing(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/acme.xml").respond_with_handler(serve_feed(big_feed()))
    rt = make_runtime(tmp_path, source("acme-news", url=httpserver.url_for("/acme.xml")))
    with opened(rt) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]

    with monkeypatch.context() as full:
        page_limit(full, pages)
        with opened(rt) as store:
            outcome = collect_source(store, rt, rt.sources["acme-news"])
            assert outcome.new == 0
            run = last_run(store, "acme-news")
            assert run["status"] == "error"
            assert "the disk (or the database) is full" in run["error"]
            assert "nothing of this change was stored" in run["error"]
            assert stored(store) == {}
            state = store.source_state("acme-news")
            assert state is not None
            assert state.cursor is None  # nothing skipped by a cursor that moved on

    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        collect_source(store, rt, rt.sources["acme-news"])  # space is back
        assert len(stored(store)) == 300
