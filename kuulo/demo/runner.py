"""``kuulo demo``: sample feeds on loopback, a config pointing at them, the real pipeline.

The demo keeps its config and database in ``data/demo/`` so that
``kuulo --config data/demo/kuulo.toml export ...`` works beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from kuulo import service
from kuulo.clock import utcnow
from kuulo.demo.samples import BRANDS, FEEDS, build_feeds
from kuulo.demo.server import FeedServer
from kuulo.settings import Settings, load_settings
from kuulo.store import MentionFilter, open_store

DEMO_DIR = Path("data/demo")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are TOML basic strings
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def _table(header: str, values: Mapping[str, object]) -> list[str]:
    lines = [header]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return [*lines, ""]


def demo_config_text(feed_url: str, database: Path) -> str:
    """The demo's settings file: its brands, and one rss source per sample feed."""
    lines = ["# Written by `kuulo demo`; rewritten on every start.", ""]
    lines += _table("[kuulo]", {"database": str(database), "tick": "2s"})
    for brand in BRANDS:
        lines += _table("[[brands]]", brand)
    for feed in FEEDS:
        source = {
            "name": feed["name"],
            "kind": "rss",
            "every": "1m",
            "url": f"{feed_url}{feed['path']}",
            "brands": feed.get("brands"),
            "owned": feed.get("owned", False),
        }
        lines += _table("[[sources]]", source)
    return "\n".join(lines)


def write_demo_config(directory: Path, feed_url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kuulo.toml"
    path.write_text(demo_config_text(feed_url, directory / "kuulo.db"), encoding="utf-8")
    return path


def summary(settings: Settings) -> list[str]:
    """Counts per brand and sentiment, and per-source health, as printed by ``demo --once``."""
    lines = []
    with open_store(settings.database_path(), read_only=True) as store:
        for brand in store.distinct_values("brand"):
            counts = {
                label: store.count_mentions(MentionFilter(brands=(brand,), sentiments=(label,)))
                for label in ("negative", "neutral", "positive", "unscored")
            }
            total = store.count_mentions(MentionFilter(brands=(brand,)))
            detail = ", ".join(f"{k} {v}" for k, v in counts.items())
            lines.append(f"{brand}: {total} mentions ({detail})")
    return [*lines, *service.status_lines(settings)]


def fresh_database(directory: Path) -> None:
    """Each demo starts from an empty database, so its dates line up with today's feeds."""
    for suffix in ("", "-wal", "-shm"):
        (directory / f"kuulo.db{suffix}").unlink(missing_ok=True)


def run_demo(*, feed_port: int = 0, once: bool = False, directory: Path = DEMO_DIR) -> None:
    fresh_database(directory)
    with FeedServer(build_feeds(utcnow()), port=feed_port) as server:
        settings = load_settings(write_demo_config(directory, server.url))
        click.echo(f"sample feeds on {server.url}; config {settings.config_path}")
        if once:
            service.run_once(settings)
            for line in summary(settings):
                click.echo(line)
            return
        url = service.dashboard_url(settings)
        service.run_forever(
            settings,
            on_ready=lambda: click.echo(f"\n  kuulo demo dashboard: {url}\n  Ctrl-C to stop.\n"),
        )
