"""`make demo` end to end: the sample server and the real pipeline produce rows."""

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

from click.testing import CliRunner

from kuulo.cli import cli
from kuulo.demo.runner import run_demo, summary, write_demo_config
from kuulo.demo.samples import build_feeds
from kuulo.demo.server import FeedServer
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, open_store


def test_demo_once_collects_scores_and_links_brands(tmp_path, capsys):
    run_demo(once=True, directory=tmp_path)
    out = capsys.readouterr().out
    assert "Nordlight:" in out
    assert "broken-bomb (rss): last run" in out
    with open_store(tmp_path / "kuulo.db", read_only=True) as store:
        total = store.count_mentions(MentionFilter())
        assert 250 < total <= 330
        assert store.count_pending() == 0
        for brand in ("Nordlight", "Brewhaus", "Kahvila Aurora"):
            assert store.count_mentions(MentionFilter(brands=(brand,))) > 10, brand
        negative = store.count_mentions(
            MentionFilter(brands=("Nordlight",), sentiments=("negative",))
        )
        unscored = store.count_mentions(MentionFilter(sentiments=("unscored",)))
        assert negative > 10
        # the demo speaks English and Finnish, and the default scorer reads both
        assert unscored == 0
        finnish = store.count_mentions(MentionFilter(languages=("fi",)))
        finnish_negative = store.count_mentions(
            MentionFilter(languages=("fi",), sentiments=("negative",))
        )
        assert finnish > 30
        assert finnish_negative > 10  # Finnish complaints are flagged, not left unscored
        # "Nordlight Road" is excluded by the query: those items are not Nordlight's
        roads = store.mentions(MentionFilter(search="Nordlight Road"))
        assert roads
        assert all("Nordlight" not in (row["brands"] or "").split(";") for row in roads)
        # every stored mention matches its brand (owned review feed aside)
        assert store.count_mentions(MentionFilter(sources=("broken-bomb",))) == 0


def test_demo_config_is_usable_by_the_cli(tmp_path):
    with FeedServer(build_feeds(datetime.now(UTC))) as server:
        config = write_demo_config(tmp_path, server.url)
        result = CliRunner().invoke(cli, ["--config", str(config), "run", "--once"])
        assert result.exit_code == 0, result.output
        lines = summary(load_settings(config, {}))
    assert any(line.startswith("Nordlight: ") for line in lines)


def _stored(db) -> int:
    if not db.exists():
        return 0
    try:
        with open_store(db, read_only=True) as store:
            return store.count_mentions(MentionFilter())
    except sqlite3.OperationalError:  # created, not migrated yet
        return 0


def run_then_sigterm(tmp_path, ready) -> tuple[int, str]:
    """Start `kuulo run`, wait until ``ready(db)`` (at most 60 s), send SIGTERM, collect."""
    with FeedServer(build_feeds(datetime.now(UTC))) as server:
        config = write_demo_config(tmp_path, server.url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "kuulo", "--config", str(config), "run", "--no-dashboard"],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready(tmp_path / "kuulo.db") and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    return proc.returncode, err


def test_run_stops_cleanly_on_sigterm(tmp_path):
    code, err = run_then_sigterm(tmp_path, lambda db: _stored(db) > 250)
    assert code == 0, err
    assert "received SIGTERM, stopping" in err
    assert "kuulo stopped" in err


def test_sigterm_during_the_first_tick_still_stops_cleanly(tmp_path):
    code, err = run_then_sigterm(tmp_path, lambda db: db.exists())  # still collecting
    assert code == 0, err
    assert "kuulo stopped" in err
