"""Plain helpers shared across test packages: TOML configs, fixed-clock runtimes, stores."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kuulo.http import make_session
from kuulo.matching import Brand
from kuulo.pipeline import Runtime, sync_sources
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings, load_settings
from kuulo.store import SqliteStore, open_store

# Two brands in TOML, the second sharing no words with the first.
ACME_GLOBEX_BRANDS = """
[[brands]]
name = "Acme"
query = 'Acme -"acme road"'

[[brands]]
name = "Globex"
query = "Globex"
"""


def collector_context(
    source_name: str,
    brands: Sequence[Brand],
    http: HttpSettings,
    now: datetime,
    logger: str,
) -> CollectorContext:
    """A collector's context with a fixed clock and sessions made from ``http``."""
    return CollectorContext(
        source_name=source_name,
        brands=brands,
        http=http,
        session_factory=lambda: make_session(http),
        now=lambda: now,
        logger=logging.getLogger(logger),
    )


def write_config(directory: Path, body: str, database: Path | None = None) -> Path:
    """Write ``directory/kuulo.toml``: a ``[kuulo]`` table naming the database, then ``body``."""
    path = directory / "kuulo.toml"
    db = (database or directory / "kuulo.db").as_posix()
    path.write_text(f'\n[kuulo]\ndatabase = "{db}"\n{body}', encoding="utf-8")
    return path


def fixed_runtime(config: Path, now: datetime, environ: Mapping[str, str] | None = None) -> Runtime:
    """Load ``config`` and build a Runtime whose clock stands at ``now``, with no jitter."""
    settings = load_settings(config, environ=dict(environ or {}))
    return Runtime.from_settings(settings, clock=lambda: now, jitter=lambda every: timedelta(0))


@contextmanager
def opened(rt: Runtime) -> Iterator[SqliteStore]:
    """Open the runtime's SQLite store with its sources synced."""
    with open_store(rt.settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        sync_sources(store, rt)
        yield store


def collected_demo(directory: Path) -> Path:
    """The demo's config in ``directory`` with its sample feeds collected and scored once."""
    from kuulo.demo.runner import write_demo_config
    from kuulo.demo.samples import build_feeds
    from kuulo.demo.server import FeedServer
    from kuulo.service import run_once

    with FeedServer(build_feeds(datetime.now(UTC))) as server:
        config = write_demo_config(directory, server.url)
        run_once(load_settings(config, {}))
    return config
