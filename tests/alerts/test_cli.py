"""``kuulo alerts status | test | resend`` and ``kuulo run --once`` alerting under cron."""

from __future__ import annotations

from email.utils import format_datetime

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from kuulo.cli import cli
from kuulo.cli_alerts import alerts_group
from kuulo.clock import utcnow
from kuulo.settings import load_settings
from tests.alerts.helpers import Harness, channel_toml, mention, rule_toml, write_config

cli.add_command(alerts_group)  # kuulo/cli.py registers it too; adding twice is harmless


def invoke(config, env, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], env=env)


@pytest.fixture
def setup(tmp_path, httpserver: HTTPServer):
    env = {"HOOK": f"json://127.0.0.1:{httpserver.port}/hook"}
    body = channel_toml("hook", "HOOK") + rule_toml("negative", ["hook"])
    config = write_config(tmp_path, body)
    return config, env


def test_status_shows_counts_broken_channels_and_dead_letters(setup, httpserver):
    config, env = setup
    httpserver.expect_request("/hook").respond_with_data("denied", status=401)
    h = Harness(load_settings(config, environ=env))
    h.add(mention("1", "Acme is awful"), mention("2", "Acme is awful too"))
    h.score()
    h.run(40)
    h.close()
    result = invoke(config, env, "alerts", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "alerts: 0 pending, 0 retrying, 0 sending, 0 sent, 2 dead-lettered (0 ambiguous sends)"
    )
    assert lines[1].startswith(
        "channel hook: BROKEN since 2026-11-25T12:00:30Z: hook (JSON): HTTP 401"
    )
    assert "dead #" in lines[2]
    assert "negative:reviews:1 -> hook[0] after 1 attempt(s)" in result.output
    assert "re-send with `kuulo alerts resend --id N` or `--all-dead`" in result.output


def test_test_reports_success_and_the_exact_failure(setup, httpserver):
    config, env = setup
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    httpserver.expect_ordered_request("/hook").respond_with_data("nope", status=404)
    ok = invoke(config, env, "alerts", "test", "--channel", "hook")
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith(": OK")
    failed = invoke(config, env, "alerts", "test", "--channel", "hook")
    assert failed.exit_code == 1
    assert "FAILED: hook (JSON): HTTP 404 (rejected, not retried)" in failed.output
    assert "check the URL's address, path and recipients" in failed.output
    unknown = invoke(config, env, "alerts", "test", "--channel", "pager")
    assert unknown.exit_code == 2
    assert "no channel named 'pager' (known: hook)" in unknown.output
    disabled = invoke(config, {}, "alerts", "test", "--channel", "hook")
    assert disabled.exit_code == 1
    assert "set the environment variable HOOK" in disabled.output


def test_resend_puts_dead_letters_back_in_the_queue(setup, httpserver):
    config, env = setup
    httpserver.expect_request("/hook").respond_with_data("bad", status=400)
    h = Harness(load_settings(config, environ=env))
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(40)
    h.close()
    assert invoke(config, env, "alerts", "resend").exit_code == 2
    result = invoke(config, env, "alerts", "resend", "--all-dead")
    assert result.output.strip() == "queued 1 alert(s) again"
    assert "1 retrying" in invoke(config, env, "alerts", "status").output  # attempted before


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Acme reviews</title><language>en</language>
<item><title>Terrible</title><link>https://reviews.example/r/1</link>
<guid isPermaLink="false">r1</guid>
<pubDate>{date}</pubDate>
<description>Awful, terrible service. The worst shop ever, I am so angry.</description></item>
<item><title>Lovely</title><link>https://reviews.example/r/2</link>
<guid isPermaLink="false">r2</guid>
<pubDate>{date}</pubDate>
<description>Wonderful staff, great prices, I love this shop.</description></item>
</channel></rss>
"""


def test_run_once_under_cron_collects_scores_and_emails_once(tmp_path, httpserver, smtp):
    httpserver.expect_request("/reviews.xml").respond_with_data(
        FEED.format(date=format_datetime(utcnow())), content_type="application/rss+xml"
    )
    config = tmp_path / "kuulo.toml"
    config.write_text(
        f"""
[kuulo]
database = "{(tmp_path / "kuulo.db").as_posix()}"

[[brands]]
name = "Acme"
query = "Acme"

[[sources]]
name = "my-reviews"
kind = "rss"
url = "{httpserver.url_for("/reviews.xml")}"
owned = true
every = "15m"

[[channels]]
name = "owner-email"
kind = "apprise"
urls = [{{ "$env" = "KUULO_OWNER_EMAIL_URL" }}]

[[rules]]
name = "negative-reviews"
channels = ["owner-email"]
""",
        encoding="utf-8",
    )
    env = {"KUULO_OWNER_EMAIL_URL": smtp.url()}
    for _ in range(2):  # cron runs it again: nothing new, nothing sent twice
        result = invoke(config, env, "run", "--once")
        assert result.exit_code == 0, result.output
    [msg] = smtp.handler.messages
    assert msg["X-Kuulo-Alert-Key"] == "negative-reviews:my-reviews:r1"
    assert "https://reviews.example/r/1" in str(msg.get_body(("plain",)).get_content())


def test_run_once_lookahead_is_only_group_wait(tmp_path, httpserver):
    """Quiet hours / digests are not sent early by ``run --once``: only group_wait is skipped."""
    body = channel_toml("hook", "HOOK") + rule_toml("d", ["hook"], mode="digest", digest="daily")
    settings = load_settings(write_config(tmp_path, body), environ={"HOOK": "json://127.0.0.1:9/x"})
    h = Harness(settings)
    h.add(mention("1", "Acme is awful"))
    h.score()
    report = h.alerting.tick(h.store, once=True)
    assert report.messages == 0
    assert h.rows()[0]["status"] == "pending"
    h.close()
