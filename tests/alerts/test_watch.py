"""Spike alerts (robust z-score over a rolling baseline, one alert per spike) and health
alerts to the operator channel (failing sources, broken channels: once, not every tick)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kuulo.errors import AlertError
from kuulo.spikes import Measure, has_ended, hour_keys, is_spike, measure, robust_z
from kuulo.store import RunOutcome
from tests.alerts.helpers import NOW, FakeChannel, Harness, channel_toml, load, mention, rule_toml

ENV = {"MAIL": "json://127.0.0.1:9/mail", "OPS": "json://127.0.0.1:9/ops"}


def harness(tmp_path, rules: str, alerts: str = "") -> Harness:
    body = channel_toml("mail", "MAIL") + channel_toml("ops", "OPS") + rules + alerts
    return Harness(
        load(tmp_path, body, ENV), channels={"mail": FakeChannel(), "ops": FakeChannel()}
    )


def sent(h: Harness, channel: str) -> list:
    return [m for m, _ in h.alerting.channels[channel].sent]  # type: ignore[attr-defined]


# -- the statistics, pure -------------------------------------------------------------------------


def test_robust_z_ignores_outliers_in_the_baseline():
    calm = [3.0] * 160 + [2.0] * 4 + [4.0] * 4
    with_old_spike = [*calm[:-3], 400.0, 500.0, 600.0]
    z_calm, mid, _ = robust_z(30, calm, 1.0)
    z_spiky, mid2, _ = robust_z(30, with_old_spike, 1.0)
    assert mid == mid2 == 3.0
    assert z_calm == z_spiky > 3.5


def test_the_mad_floor_keeps_a_quiet_brand_from_spiking_on_a_stray_post():
    zeros = [0.0] * 168
    assert robust_z(2, zeros, 1.0)[0] < 3.5
    assert robust_z(12, zeros, 1.0)[0] > 3.5


def test_measure_fills_missing_hours_with_zero_and_checks_share():
    hours = hour_keys(NOW - timedelta(days=7), NOW - timedelta(hours=1))
    assert len(hours) == 167
    buckets = dict.fromkeys(hours[::2], (4, 1))  # every other hour: 4 mentions, 1 negative
    volume, share = measure(buckets, hours, (40, 30))
    assert volume.median in (0.0, 4.0)
    assert share.median == 0.25
    assert is_spike(share, 3.5, 10)
    assert not is_spike(Measure("volume", 9, 0, 1, 6.0, 9, 0), 3.5, 10)  # below min count
    assert has_ended(Measure("volume", 20, 4, 1, 1.0, 20, 0), 3.5, 10)


# -- spike alerts end to end ----------------------------------------------------------------------


def history(h: Harness, days: int = 7, per_hour: int = 2) -> None:
    """A calm week: ``per_hour`` neutral mentions every hour, a few negatives."""
    start = NOW - timedelta(days=days)
    mentions = [
        mention(f"h{hour}-{i}", "Acme update" if i else "Acme is awful",
                published_at=start + timedelta(hours=hour, minutes=10 * i))
        for hour in range(days * 24) for i in range(per_hour)
    ]  # fmt: skip
    h.add(*mentions)
    h.score()


def test_one_alert_per_spike_not_per_hour(tmp_path):
    h = harness(tmp_path, rule_toml("spikes", ["mail"], kind="spike"))
    h.clock.now = NOW + timedelta(minutes=59)
    history(h)
    assert sent(h, "mail") == []  # the history itself is old news: no mention alerts
    for minute in range(180):  # a viral thread: a mention a minute for three hours
        h.clock.advance(60)
        h.add(mention(f"v{minute}", "Acme is awful", published_at=h.clock()))
        h.score()
        h.tick()
    [spike] = sent(h, "mail")  # volume and negative share spiked together: one message
    assert (spike.kind, spike.count) == ("spike", 2)
    assert spike.summary.splitlines() == [
        "Acme: mention volume spike",
        "Acme: negative share spike",
    ]
    [volume] = [r for r in h.rows() if ":volume:" in r["alert_key"]]
    assert volume["status"] == "sent"
    h.run(3 * 3600, step=300)  # it calms down: the episode ends, no more alerts
    assert len(sent(h, "mail")) == 1
    h.close()


def test_no_spike_without_a_day_of_history(tmp_path):
    h = harness(tmp_path, rule_toml("spikes", ["mail"], kind="spike"))
    h.add(
        *[
            mention(f"v{i}", "Acme update", published_at=NOW - timedelta(minutes=i))
            for i in range(50)
        ]
    )
    h.score()
    h.run(600, step=60)
    assert sent(h, "mail") == []
    h.close()


def test_spike_rules_do_not_alert_single_mentions(tmp_path):
    h = harness(tmp_path, rule_toml("spikes", ["mail"], kind="spike"))
    h.add(mention("1", "Acme is awful"))
    h.score()
    assert h.rows() == []
    h.close()


# -- health alerts ------------------------------------------------------------------------------


OPS = '\n[alerts]\noperator_channel = "ops"\n'


def fail_runs(h: Harness, source: str, times: int, every: timedelta) -> None:
    h.store.sync_sources([(source, "rss")], h.clock())
    for _ in range(times):
        run = h.store.start_run(source, h.clock())
        outcome = RunOutcome(status="error", error="HTTP 503 from https://reviews.example/feed.xml")
        h.store.finish_run(run, source, outcome, now=h.clock(), next_due=h.clock() + every)
        h.clock.advance(every.total_seconds())
        h.tick()


def test_a_failing_source_is_reported_once(tmp_path):
    h = harness(tmp_path, rule_toml("neg", ["mail"]), OPS)
    fail_runs(h, "reviews", 10, timedelta(minutes=15))
    h.run(3600, step=60)
    [note] = sent(h, "ops")
    assert note.title == "kuulo: source reviews is failing"
    assert note.details["Last error"].startswith("HTTP 503")
    assert "No successful run in 3 of its intervals (last success: never)" in note.summary
    h.close()


def test_a_source_that_recovers_and_fails_again_is_a_new_episode(tmp_path):
    h = harness(tmp_path, rule_toml("neg", ["mail"]), OPS)
    fail_runs(h, "reviews", 4, timedelta(minutes=15))
    run = h.store.start_run("reviews", h.clock())
    h.store.finish_run(run, "reviews", RunOutcome(), now=h.clock(), next_due=h.clock())
    h.run(600, step=60)
    fail_runs(h, "reviews", 6, timedelta(minutes=15))
    h.run(600, step=60)
    notes = sent(h, "ops")
    assert [n.title for n in notes] == ["kuulo: source reviews is failing"] * 2
    assert "last success: 20" in notes[1].summary
    h.close()


def test_a_broken_channel_is_reported_on_the_operator_channel_once(tmp_path):
    h = harness(tmp_path, rule_toml("neg", ["mail"]), OPS)
    mail = h.alerting.channels["mail"]
    mail.script = [AlertError("HTTP 401", broken=True)] * 50  # type: ignore[attr-defined]
    for i in range(5):
        h.add(mention(str(i), "Acme is awful"))
        h.score()
        h.run(1800, step=60)
    titles = [n.title for n in sent(h, "ops")]
    assert titles.count("kuulo: channel mail is broken") == 1
    assert all("mail" in t for t in titles)  # plus the dead-letter notes, grouped
    h.close()


@pytest.mark.parametrize("paused_for", [timedelta(minutes=5), timedelta(hours=2)])
def test_only_a_long_pause_is_reported(tmp_path, paused_for):
    h = harness(tmp_path, rule_toml("neg", ["mail"]), OPS)
    h.store.sync_sources([("reviews", "rss")], h.clock())
    run = h.store.start_run("reviews", h.clock())
    outcome = RunOutcome(status="error", error="HTTP 429")
    h.store.finish_run(
        run, "reviews", outcome, now=h.clock(), next_due=h.clock() + paused_for,
        paused_until=h.clock() + paused_for,
    )  # fmt: skip
    h.run(120, step=60)
    titles = [n.title for n in sent(h, "ops")]
    expected = ["kuulo: source reviews is paused"] if paused_for > timedelta(minutes=45) else []
    assert titles == expected
    h.close()
