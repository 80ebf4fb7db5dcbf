"""The running service picks up dashboard-created items: Ticker reload, status, CLI checks.

A real SQLite file, a feed served by pytest-httpserver on 127.0.0.1 (private hosts allowed in
these settings, as for the demo), a fixed clock.
"""

from __future__ import annotations

from concurrent.futures import wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from kuulo.cli import cli
from kuulo.scheduler import Ticker
from kuulo.service import status_lines
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, open_store
from tests.support import fixed_runtime, write_config

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Initech watch</title>
<item><title>Initech TPS reports are late again</title><guid isPermaLink="false">tps-1</guid>
<link>https://blog.example/tps-1</link><pubDate>Tue, 24 Nov 2026 08:15:00 +0000</pubDate>
<description>Nobody at Initech answers. Terrible.</description></item>
<item><title>Acme anvils on sale</title><guid isPermaLink="false">acme-1</guid>
<link>https://blog.example/acme-1</link><pubDate>Tue, 24 Nov 2026 09:15:00 +0000</pubDate>
</item></channel></rss>"""
ENV = {"KUULO_TEAM_URL": "json://localhost/hook"}
CONFIG = """
[http]
retries = 0
backoff_factor = 0
connect_timeout = 2
read_timeout = 5

[dashboard]
allow_private_feed_hosts = true

[[brands]]
name = "Acme"
query = "Acme"

[[channels]]
name = "team"
kind = "apprise"
urls = [{ "$env" = "KUULO_TEAM_URL" }]
"""


def save(db: Path, kind: str, body: dict[str, Any]) -> None:
    with open_store(db) as store:
        store.save_catalog_item(kind, body["name"], body, "ana", NOW)  # type: ignore[arg-type]


def initech_source(httpserver: HTTPServer) -> dict[str, Any]:
    url = f"http://127.0.0.1:{httpserver.port}/initech.xml"
    return {"name": "initech-blog", "kind": "rss", "url": url, "brands": ["Initech"]}


def test_the_next_tick_collects_a_source_added_while_running(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/initech.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    rt = fixed_runtime(write_config(tmp_path, CONFIG), NOW, ENV)
    db = rt.settings.database_path()
    ticker = Ticker(rt, db)
    try:
        assert wait(ticker.tick()).done == set()  # nothing configured yet
        assert ticker.rt.sources == {}

        save(db, "brand", {"name": "Initech", "query": "Initech"})
        save(db, "source", initech_source(httpserver))
        save(db, "rule", {"name": "initech-alerts", "brands": ["Initech"], "channels": ["team"]})
        futures = ticker.tick()
        wait(futures)
        assert len(futures) == 1
        assert [r.settings.name for r in ticker.alerting.rules] == ["initech-alerts"]
    finally:
        ticker.shutdown()

    with open_store(db, read_only=True) as store:
        rows = list(store.export_rows(MentionFilter(sources=("initech-blog",))))
        status = {r["name"]: r for r in store.source_status()}
    assert [(r["native_id"], r["brands"]) for r in rows] == [("tps-1", "Initech")]
    assert status["initech-blog"]["last_status"] == "ok"


def test_pausing_and_deleting_apply_on_the_next_tick(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    rt = fixed_runtime(write_config(tmp_path, CONFIG), NOW, ENV)
    db = rt.settings.database_path()
    save(db, "brand", {"name": "Initech", "query": "Initech"})
    save(db, "source", initech_source(httpserver))
    ticker = Ticker(rt, db)
    try:
        assert ticker.rt.sources["initech-blog"].disabled_reason is None
        with open_store(db) as store:
            store.set_catalog_paused("source", "initech-blog", True, "ana", NOW)
        ticker.tick()
        assert ticker.rt.sources["initech-blog"].disabled_reason
        assert ticker._claim(["initech-blog"]) == []

        with open_store(db) as store:
            store.delete_catalog_item("source", "initech-blog")
        ticker.tick()
        assert "initech-blog" not in ticker.rt.sources
    finally:
        ticker.shutdown()
    assert httpserver.log == []


def test_an_item_that_breaks_is_left_out_and_the_rest_keeps_running(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/initech.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    rt = fixed_runtime(write_config(tmp_path, CONFIG), NOW, ENV)
    db = rt.settings.database_path()
    save(db, "brand", {"name": "Initech", "query": "Initech"})
    save(db, "source", initech_source(httpserver))
    ticker = Ticker(rt, db)
    try:
        with open_store(db) as store:  # the brand goes; the source naming it no longer validates
            store.delete_catalog_item("brand", "Initech")
            store.save_catalog_item("brand", "Broken", {"name": "Broken", "query": "("}, "a", NOW)
        wait(ticker.tick())
        assert ticker.rt.sources == {}
        assert [b.name for b in ticker.rt.brands] == ["Acme"]
    finally:
        ticker.shutdown()


def test_status_and_collect_see_database_sources(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/initech.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    config = write_config(tmp_path, CONFIG)
    settings = load_settings(config, environ=ENV)
    save(settings.database_path(), "brand", {"name": "Initech", "query": "Initech"})
    save(settings.database_path(), "source", initech_source(httpserver))

    assert status_lines(settings, NOW) == ["initech-blog (rss): never run"]
    result = CliRunner(env=ENV).invoke(cli, ["--config", str(config), "collect", "initech-blog"])
    assert result.exit_code == 0, result.output
    (line,) = status_lines(settings, datetime.now(UTC) + timedelta(seconds=1))
    assert "initech-blog (rss): last run" in line
    assert "new 1" in line


def test_config_check_validates_database_items(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    db = load_settings(config, environ=ENV).database_path()
    save(db, "brand", {"name": "Initech", "query": "Initech"})
    runner = CliRunner(env=ENV)

    result = runner.invoke(cli, ["--config", str(config), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "database: 1 brands created in the dashboard" in result.output

    save(db, "source", {"name": "bad-feed", "kind": "rss", "url": "ftp://x", "brands": ["Nope"]})
    result = runner.invoke(cli, ["--config", str(config), "config", "check"])
    assert result.exit_code == 2
    assert "database: source 'bad-feed', key 'url': Feed addresses must start with" in (
        result.output
    )
    assert "database: source 'bad-feed', key 'brands': There is no brand named 'Nope'." in (
        result.output
    )
