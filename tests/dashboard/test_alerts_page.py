"""The Alerts page through AppTest: counts, dead letters, re-send, channel tests, no secrets.

The outbox is seeded through the store's own queue/claim/finish functions, so every row is in
a state the deliver stage really produces. Channel URLs carry canary secrets; a json://
webhook on pytest-httpserver answers the test sends, and a closed port refuses them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Widget

from kuulo.alert_model import AlertIntent
from kuulo.clock import utcnow
from kuulo.store import open_store
from kuulo.store.outbox import AttemptResult
from tests.alerts.helpers import SmtpSink, channel_toml, rule_toml, write_config
from tests.dashboard.apptest import open_page, with_sign_in

TOKEN = "CANARY-dash-token-91c2"
PASSWORD = "CANARY-dash-pass-44e0"


def hook_url(port: int) -> str:
    return f"json://kuulo:{PASSWORD}@127.0.0.1:{port}/hooks/{TOKEN}"


@pytest.fixture
def config(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("KUULO_DASH_HOOK", hook_url(httpserver.port))
    monkeypatch.setenv("KUULO_DASH_DOWN", SmtpSink().url(password=True))  # nothing listens
    body = channel_toml("hook", "KUULO_DASH_HOOK") + channel_toml("down", "KUULO_DASH_DOWN")
    body += rule_toml("negative", ["hook"], brands=["Acme"])
    body += rule_toml("nightly", ["down"], mode="digest", enabled=False)
    path = write_config(tmp_path, body)
    seed(tmp_path / "kuulo.db")
    return path


def queue(store, key: str, rule: str, channel: str, minutes_ago: int) -> None:
    now = utcnow()
    due = now - timedelta(minutes=minutes_ago)
    intent = AlertIntent(alert_key=key, rule=rule, channel=channel, target=0, due_at=due)
    store.enqueue_alerts([intent], due)


def attempt(store, channel: str, outcome: str, error: str | None = None, **kw) -> None:
    now = utcnow()
    claim = store.claim_group(now, timedelta(minutes=5), f"token-{outcome}", [channel])
    assert claim is not None
    store.finish_claim(claim, AttemptResult(outcome, f"msg-{outcome}", error, **kw), now)


def seed(path: Path) -> None:
    """1 sent, 2 dead (one rejected, one on a broken channel), 1 retrying, 1 pending."""
    later = utcnow() + timedelta(hours=1)
    with open_store(path) as store:
        queue(store, "negative:sent", "negative", "hook", 50)
        attempt(store, "hook", "sent")
        queue(store, "negative:rejected", "negative", "hook", 40)
        attempt(store, "hook", "permanent", "hook (JSON): HTTP 400 (rejected, not retried)")
        queue(store, "negative:retry", "negative", "hook", 30)
        attempt(store, "hook", "transient", "hook (JSON): HTTP 503", next_flush_at=later)
        queue(store, "negative:waiting", "negative", "hook", -60)
        queue(store, "nightly:refused", "nightly", "down", 20)
        attempt(
            store, "down", "broken", "down (E-Mail): SMTP 535 authentication refused",
            channel_paused_until=later,
        )  # fmt: skip


def page(config, monkeypatch) -> AppTest:
    return open_page(config, monkeypatch, "alerts")


def rendered(at: AppTest) -> str:
    """Everything the page put on screen: every element's message and every table's cells."""
    texts: list[str] = []

    def visit(node) -> None:
        if getattr(node, "proto", None) is not None:
            texts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(at._tree)
    texts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(texts)


def outbox(config) -> dict[str, tuple[str, int]]:
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        return {r["alert_key"]: (r["status"], r["attempts"]) for r in store.alert_rows()}


def table(at: AppTest, key: str):
    (frame,) = [f for f in at.dataframe if f.key == key]
    return frame


def test_counts_rules_channels_and_dead_letters(config, monkeypatch):
    at = page(config, monkeypatch)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Pending": "1", "Retrying": "1", "Sent": "1", "Dead-lettered": "2"}
    frames = [f.value for f in at.dataframe]
    rules = next(f for f in frames if "Rule" in f.columns and "State" in f.columns)
    assert dict(zip(rules["Rule"], rules["State"], strict=True)) == {
        "negative": "enabled",
        "nightly": "paused (enabled = false)",
    }
    channels = next(f for f in frames if "Targets" in f.columns)
    states = dict(zip(channels["Channel"], channels["State"], strict=True))
    assert states["hook"] == "ok"
    assert states["down"].startswith("BROKEN since")
    assert any("Channel down is broken" in e.value for e in at.error)
    dead = table(at, "alerts-dead").value
    errors = dict(zip(dead["Alert"], dead["Last error"], strict=True))
    assert errors == {
        "negative:rejected": "hook (JSON): HTTP 400 (rejected, not retried)",
        "nightly:refused": "down (E-Mail): SMTP 535 authentication refused",
    }
    log = next(f for f in frames if "Outcome" in f.columns)
    assert list(log["Outcome"]) == ["broken", "transient", "permanent", "sent"]  # newest first
    assert "hook (JSON): HTTP 503" in set(log["Error"])


def test_resend_requeues_the_selected_dead_letter(config, monkeypatch, httpserver):
    at = page(config, monkeypatch)
    dead = table(at, "alerts-dead").value
    row = list(dead["Alert"]).index("negative:rejected")
    at.session_state["alerts-dead"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    at.button(key="alerts-resend").click().run()
    assert not at.exception, at.exception
    rows = outbox(config)
    assert rows["negative:rejected"] == ("pending", 1)  # queued again; its attempt is kept
    assert rows["nightly:refused"] == ("dead", 1)  # not selected: left alone
    assert "Queued 1 alert(s) again" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["Retrying"] == "2"
    assert len(httpserver.log) == 0  # re-send only queues: the page sent nothing


def test_resend_all_dead_letters(config, monkeypatch):
    at = page(config, monkeypatch)
    at.button(key="alerts-resend-all").click().run()
    rows = outbox(config)
    assert [k for k, (status, _) in rows.items() if status == "dead"] == []
    assert "Queued 2 alert(s) again" in at.success[0].value
    assert "No dead letters" in rendered(at)


def test_send_test_reports_success_and_the_failure_text(config, monkeypatch, httpserver):
    httpserver.expect_request(f"/hooks/{TOKEN}").respond_with_data("ok")
    at = page(config, monkeypatch)
    assert len(httpserver.log) == 0  # rendering the page sends nothing
    at.selectbox(key="alerts-test-channel").set_value("hook").run()
    at.button(key="alerts-test").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["hook[0]: delivered"]
    assert len(httpserver.log) == 1
    at.selectbox(key="alerts-test-channel").set_value("down").run()
    at.button(key="alerts-test").click().run()
    (failure,) = [e.value for e in at.error if e.value.startswith("down[0]")]
    assert failure.startswith("down[0]: FAILED: down (E-Mail): connection refused")
    assert "temporary" in failure


def test_no_channel_url_or_secret_on_the_page(config, monkeypatch, httpserver):
    httpserver.expect_request(f"/hooks/{TOKEN}").respond_with_data("denied", status=401)
    at = page(config, monkeypatch)
    seen = [rendered(at)]
    for name in ("hook", "down"):
        at.selectbox(key="alerts-test-channel").set_value(name).run()
        at.button(key="alerts-test").click().run()
        seen.append(rendered(at))
    text = "\n".join(seen)
    assert "hook[0]: FAILED: hook (JSON): HTTP 401" in text  # the helper sees messages ...
    assert "down[0]: FAILED" in text
    assert "nightly:refused" in text  # ... and table cells
    for secret in ("CANARY", TOKEN, PASSWORD, "://", "/hooks/", "127.0.0.1", "owner:"):
        assert secret not in text


def test_no_alerts_configured_says_how_to_add_them(tmp_path, monkeypatch):
    config = write_config(tmp_path, "")
    open_store(tmp_path / "kuulo.db").close()
    at = page(config, monkeypatch)
    (info,) = [i.value for i in at.info]
    assert "[[channels]]" in info
    assert "[[rules]]" in info
    assert {m.value for m in at.metric} == {"0"}
    text = rendered(at)
    assert "No dead letters" in text
    assert "No delivery attempts yet" in text
    assert not at.button  # nothing to re-send, no channel to test


def signed_in(config, monkeypatch, role: str) -> AppTest:
    """The page as user vera, with sign-in on."""
    with_sign_in(config, "vera", role)
    return open_page(config, monkeypatch, "alerts", user="vera")


def test_a_viewer_sees_the_page_but_cannot_act(config, monkeypatch, httpserver):
    at = signed_in(config, monkeypatch, "viewer")
    assert "need the admin role" in rendered(at)
    assert {m.label: m.value for m in at.metric}["Dead-lettered"] == "2"
    at.button(key="alerts-resend-all").click().run()  # refused on the server
    assert any("needs the admin role" in e.value for e in at.error)
    assert outbox(config)["negative:rejected"] == ("dead", 1)
    at = signed_in_again(at)
    at.selectbox(key="alerts-test-channel").set_value("hook").run()
    at.button(key="alerts-test").click().run()
    assert any("needs the admin role" in e.value for e in at.error)
    assert len(httpserver.log) == 0


def signed_in_again(at: AppTest) -> AppTest:
    """After a refusal the run stopped early: render the page again."""
    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    return at


def catalog_rules(config: Path) -> dict[str, tuple[dict[str, Any], bool]]:
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        return {i.name: (i.body, i.paused) for i in store.catalog_items("rule")}


def rules_frame(at: AppTest) -> pd.DataFrame:
    frame = next(f.value for f in at.dataframe if {"Rule", "Origin"} <= set(f.value.columns))
    return frame.set_index("Rule")


def errors_under(at: AppTest, key: str) -> list[str]:
    """The errors shown right below a widget (up to the next widget), Markdown escapes removed."""
    nodes = [n for n in at.main if not isinstance(n, Block)]
    start = next(i for i, n in enumerate(nodes) if isinstance(n, Widget) and n.key == key)
    found = []
    for node in nodes[start + 1 :]:
        if isinstance(node, Widget):
            break
        if node.type == "error":
            found.append(re.sub(r"\\(.)", r"\1", node.value))
    return found


def test_pausing_and_resuming_a_config_rule(config, monkeypatch):
    at = page(config, monkeypatch)
    assert rules_frame(at).loc["negative", "Origin"] == "from config"
    at.selectbox(key="rule-pause-pick").set_value("negative").run()
    at.button(key="rule-pause").click().run()
    assert not at.exception, at.exception
    assert catalog_rules(config) == {"negative": ({}, True)}  # an override row, no body
    assert rules_frame(at).loc["negative", "State"] == "paused"
    assert "Paused rule negative." in at.success[0].value
    at.selectbox(key="rule-pause-pick").set_value("negative").run()
    at.button(key="rule-resume").click().run()
    assert catalog_rules(config) == {}
    assert rules_frame(at).loc["negative", "State"] == "enabled"


def test_adding_editing_and_deleting_a_dashboard_rule(config, monkeypatch):
    at = page(config, monkeypatch)
    at.text_input(key="rule-f-name").input("refunds").run()
    at.multiselect(key="rule-f-channels").set_value(["hook"]).run()
    at.text_input(key="rule-f-match").input("refund OR broken").run()
    at.text_input(key="rule-f-quiet_hours").input("22:00-07:00").run()
    at.button(key="rule-save").click().run()
    assert not at.exception, at.exception
    body = {
        "name": "refunds", "kind": "mention", "channels": ["hook"], "sentiment": "negative",
        "mode": "instant", "match": "refund OR broken", "quiet_hours": "22:00-07:00",
    }  # fmt: skip
    assert catalog_rules(config) == {"refunds": (body, False)}
    rules = rules_frame(at)
    assert rules.loc["refunds", "Origin"] == "dashboard"
    assert rules.loc["refunds", "State"] == "enabled"
    at.selectbox(key="rule-pick").set_value("refunds").run()
    assert at.text_input(key="rule-f-match").value == "refund OR broken"
    at.selectbox(key="rule-f-mode").set_value("digest").run()
    at.text_input(key="rule-f-digest_at").input("09:30").run()
    at.button(key="rule-save").click().run()
    stored, _ = catalog_rules(config)["refunds"]
    assert (stored["mode"], stored["digest"], stored["digest_at"]) == ("digest", "daily", "09:30")
    at.selectbox(key="rule-pick").set_value("refunds").run()
    at.button(key="rule-delete").click().run()
    at.button(key="rule-delete-yes").click().run()
    assert catalog_rules(config) == {}
    assert "refunds" not in rules_frame(at).index


def test_rule_errors_are_shown_under_their_fields(config, monkeypatch):
    at = page(config, monkeypatch)
    at.text_input(key="rule-f-name").input("negative").run()  # taken by a config rule
    at.text_input(key="rule-f-quiet_hours").input("25:00-07:00").run()
    at.text_input(key="rule-f-match").input("refund AND (").run()
    at.button(key="rule-save").click().run()
    assert not at.exception, at.exception
    assert "already exists in the configuration file" in errors_under(at, "rule-f-name")[0]
    assert errors_under(at, "rule-f-channels")  # none chosen: a rule needs a channel
    assert "24-hour time" in errors_under(at, "rule-f-quiet_hours")[0]
    assert "cannot parse" in errors_under(at, "rule-f-match")[0]
    assert errors_under(at, "rule-f-min_reach") == []
    assert catalog_rules(config) == {}
    assert at.text_input(key="rule-f-quiet_hours").value == "25:00-07:00"  # nothing lost


def test_a_viewer_cannot_pause_or_add_rules(config, monkeypatch):
    at = signed_in(config, monkeypatch, "viewer")
    assert "adding, editing and deleting rules needs the admin role" in rendered(at)
    at.selectbox(key="rule-pause-pick").set_value("negative").run()
    at.button(key="rule-pause").click().run()  # refused on the server
    assert any("needs the admin role" in e.value for e in at.error)
    at = signed_in_again(at)
    at.text_input(key="rule-f-name").input("sneaky").run()
    at.multiselect(key="rule-f-channels").set_value(["hook"]).run()
    at.button(key="rule-save").click().run()
    assert any("needs the admin role" in e.value for e in at.error)
    assert catalog_rules(config) == {}


def test_a_stored_rule_that_no_longer_validates_is_reported_not_listed(config, monkeypatch):
    body = {"name": "orphan", "channels": ["gone"]}  # its channel left the config file
    with open_store(config.parent / "kuulo.db") as store:
        store.save_catalog_item("rule", "orphan", body, "test", utcnow())
    at = page(config, monkeypatch)
    assert not at.exception, at.exception
    (warning,) = [w.value for w in at.warning if "Left out" in w.value]
    assert "orphan" in warning
    assert "gone" in warning
    assert "orphan" not in rules_frame(at).index
