"""Channel URLs are secrets (reliability.md S4): with canary passwords and webhook tokens in
them, successes and every kind of failure leave no trace in logs, errors, the DB or the CLI."""

from __future__ import annotations

import logging

from click.testing import CliRunner

from kuulo.cli import cli
from kuulo.cli_alerts import alerts_group
from kuulo.settings import load_settings
from tests.alerts.helpers import (
    SMTP_PASSWORD,
    Harness,
    SmtpSink,
    channel_toml,
    mention,
    rule_toml,
    write_config,
)

TOKEN = "CANARY-webhook-token-5d1e"
PASSWORD = "CANARY-webhook-pass-0b77"

cli.add_command(alerts_group)


def test_no_canary_anywhere(tmp_path, smtp, httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    answers = iter([500, 401, 200, 200, 200, 200])
    httpserver.expect_request(f"/hooks/{TOKEN}").respond_with_handler(
        lambda request: __import__("werkzeug").Response("x", status=next(answers, 200))
    )
    down = SmtpSink()  # nothing listens: connection refused
    env = {
        "MAIL": smtp.url(password=True),
        "DOWN": down.url(password=True),
        "HOOK": f"json://kuulo:{PASSWORD}@127.0.0.1:{httpserver.port}/hooks/{TOKEN}",
    }
    body = (
        channel_toml("mail", "MAIL") + channel_toml("down", "DOWN") + channel_toml("hook", "HOOK")
    )
    body += rule_toml("neg", ["mail", "down", "hook"])
    config = write_config(tmp_path, body)
    settings = load_settings(config, environ=env)
    h = Harness(settings)
    smtp.handler.answers = ["5xx"]
    for i in range(3):
        h.add(mention(str(i), "Acme is awful"))
        h.score()
        h.run(600)
    runner = CliRunner()
    outputs = [
        runner.invoke(cli, ["--config", str(config), "alerts", *args], env=env).output
        for args in (["status"], ["test", "--channel", "hook"], ["test", "--channel", "down"])
    ]
    dump = "\n".join(h.store.db.conn.iterdump())
    errors = [str(a["error"]) for a in h.store.alert_attempts()]
    h.close()
    assert smtp.handler.messages  # something was delivered, something failed
    assert any("refused" in e for e in errors)
    assert any("HTTP 401" in e for e in errors)
    assert "alerts:" in outputs[0]
    assert ": OK" in outputs[1]
    assert "FAILED: down (E-Mail): connection refused" in outputs[2]
    # the test's own web server logs its request lines: not kuulo's output
    logs = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    for text in (*logs, dump, *outputs, *errors, repr(settings)):
        for secret in (SMTP_PASSWORD, TOKEN, PASSWORD, "CANARY"):
            assert secret not in text
