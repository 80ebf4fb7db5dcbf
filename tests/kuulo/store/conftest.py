"""Fixtures shared by the tests in this folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kuulo.store import SqliteStore
from tests.kuulo.store.store_support import NOW, SOURCE, open_sqlite


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with open_sqlite(tmp_path / "kuulo.db") as s:
        s.sync_sources([(SOURCE, "rss"), ("blog", "rss")], NOW)
        yield s
