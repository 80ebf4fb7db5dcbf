"""The outbox and the deliver stage against a real SQLite file, an in-memory channel and a
fake clock: transactional writes, grouping, backoff, dead letters, leases, two senders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import time_machine

from kuulo.alerting import Alerting
from kuulo.clock import from_iso, utcnow
from kuulo.delivery import LEASE, Backoff
from kuulo.errors import AlertError
from kuulo.pipeline import score_pending
from kuulo.store import open_store
from tests.alerts.helpers import (
    NOW,
    FakeChannel,
    FakeScorer,
    Harness,
    channel_toml,
    load,
    mention,
    rule_toml,
    seeded,
    store_mentions,
)

ENV = {"MAIL": "json://127.0.0.1:9/mail", "CHAT": "json://127.0.0.1:9/chat"}


def harness(tmp_path: Path, rules: str = "", *, targets: int = 1, **kw) -> Harness:
    body = channel_toml("mail", *["MAIL"] * targets) + channel_toml("chat", "CHAT")
    body += rules or rule_toml("neg", ["mail"])
    settings = load(tmp_path, body, ENV, **kw)
    return Harness(settings, channels={"mail": FakeChannel(targets), "chat": FakeChannel()})


@pytest.fixture
def h(tmp_path):
    h = harness(tmp_path)
    yield h
    h.close()


def mail(h: Harness) -> FakeChannel:
    return h.alerting.channels["mail"]  # type: ignore[return-value]


def negatives(n: int, **fields) -> list:
    return [mention(str(i), f"Acme is awful #{i}", **fields) for i in range(n)]


# -- queueing ------------------------------------------------------------------------------------


def test_a_negative_mention_queues_one_alert_with_its_score(h):
    h.add(mention("1", "Acme is awful"), mention("2", "Acme is great"), mention("3", "Acme"))
    assert h.score() == 3
    [row] = h.rows()
    assert row["alert_key"] == "neg:reviews:1"
    assert (row["status"], row["channel"], row["target"]) == ("pending", "mail", 0)
    assert from_iso(row["due_at"]) == NOW + timedelta(seconds=30)


def test_a_crash_before_commit_leaves_neither_score_nor_alert(h, monkeypatch):
    h.add(mention("1", "Acme is awful"))

    def crash(conn, alerts, now):
        raise RuntimeError("power cut between the score UPDATE and the COMMIT")

    monkeypatch.setattr("kuulo.store.sqlite.insert_alerts", crash)
    with pytest.raises(RuntimeError):
        h.score()
    assert h.rows() == []
    assert h.store.count_pending() == 1  # the score rolled back with the alert


def test_a_mention_edited_while_scoring_gets_no_stale_alert(h):
    h.add(mention("1", "Acme is awful"))
    plan = h.alerting.plan

    def edit_then_plan(store, scored, now):
        intents = plan(store, scored, now)
        h.add(mention("1", "Acme is great after all"))  # version 2 lands mid-way
        return intents

    score_pending(h.store, FakeScorer(), 500, h.clock, planner=edit_then_plan)
    assert h.rows() == []  # version 1's alert was not written: its score did not land
    h.score()  # version 2 is scored (positive): still no alert
    assert h.rows() == []


def test_the_same_mention_never_alerts_the_same_target_twice(h):
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(60)
    for _ in range(3):  # re-scores and restarts
        h.store.reset_scores("fake", "1", everything=True)
        h.restart()
        h.score()
        h.run(600)
    assert mail(h).keys() == {"neg:reviews:1": 1}
    assert len(h.rows()) == 1


def test_backfilled_old_mentions_do_not_alert(h):
    h.add(mention("old", "Acme is awful", published_at=NOW - timedelta(days=3)))
    h.score()
    assert h.rows() == []


# -- grouping ------------------------------------------------------------------------------------


def test_nothing_goes_out_before_group_wait_then_one_message(h):
    h.add(*negatives(3))
    h.score()
    h.clock.advance(29)
    h.tick()
    assert mail(h).sent == []
    h.clock.advance(1)
    h.tick()
    [(message, _)] = mail(h).sent
    assert message.count == 3
    assert sorted(message.alert_keys) == [f"neg:reviews:{i}" for i in range(3)]


def test_a_burst_of_5000_is_one_message_per_group_interval(h):
    h.add(*[m for i, m in enumerate(negatives(5000)) if i % 2 == 0])
    h.add(*[m for i, m in enumerate(negatives(5000)) if i % 2 == 1])
    h.score()
    h.run(60)
    [(first, _)] = mail(h).sent
    assert first.count == 5000
    assert len(first.items) == h.settings.alerts.top_items
    assert len(first.alert_keys) == 1000  # capped; the count says the rest
    h.add(*[mention(f"late{i}", "Acme is awful") for i in range(50)])  # still going viral
    h.score()
    h.run(240)  # inside the 5-minute group interval: held back
    assert len(mail(h).sent) == 1
    h.run(60)
    assert [m.count for m, _ in mail(h).sent] == [5000, 50]
    assert {r["status"] for r in h.rows()} == {"sent"}


def test_top_items_are_the_largest_reach_first(h):
    h.add(*[mention(str(i), "Acme is awful", author_followers=i * 10) for i in range(30)])
    h.score()
    h.run(60)
    [(message, _)] = mail(h).sent
    assert [i.reach for i in message.items] == [290 - 10 * i for i in range(10)]
    assert message.more == 20


def test_fan_out_200_mentions_20_groups_2_channels(tmp_path):
    rules = "".join(rule_toml(f"topic{n}", ["mail", "chat"], match=f"topic{n}") for n in range(20))
    h = harness(tmp_path, rules)
    h.add(*[mention(str(i), f"Acme is awful topic{i % 20}") for i in range(200)])
    h.score()
    h.run(40)
    for name in ("mail", "chat"):
        sent = h.alerting.channels[name].sent  # type: ignore[attr-defined]
        assert len(sent) == 20
        assert all(m.count == 10 for m, _ in sent)
    h.close()


def test_each_target_of_a_channel_is_its_own_group(tmp_path):
    h = harness(tmp_path, targets=2)
    h.add(mention("1", "Acme is awful"))
    h.score()
    mail(h).script = [AlertError("target 0 down"), None]  # target 0 fails, target 1 works
    h.run(30)
    assert [t for _, t in mail(h).sent] == [1]
    h.run(60)
    assert sorted(t for _, t in mail(h).sent) == [0, 1]  # target 1 did not get it twice
    h.close()


# -- retries and dead letters ---------------------------------------------------------------------


def test_backoff_is_capped_full_jitter_floored_at_base():
    backoff = Backoff(timedelta(seconds=5), timedelta(minutes=5), seeded(1))
    for failures in range(12):
        ceiling = min(300, 5 * 2**failures)
        for _ in range(50):
            assert 5 <= backoff.delay(failures).total_seconds() <= ceiling
    spread = {round(backoff.delay(6).total_seconds()) for _ in range(100)}
    assert len(spread) > 20  # jittered, not lock-step
    assert 7 <= backoff.delay(3, retry_after=7).total_seconds() <= 12


def test_transient_failures_retry_with_backoff_then_deliver_once(h):
    mail(h).script = [AlertError("down")] * 3
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(600, step=1)
    assert mail(h).keys() == {"neg:reviews:1": 1}
    attempts = h.store.alert_attempts()
    assert [a["outcome"] for a in attempts] == ["transient"] * 3 + ["sent"]
    gaps = [(from_iso(b["at"]) - from_iso(a["at"])).total_seconds() for a, b in pairwise(attempts)]
    assert all(gap >= 5 for gap in gaps)
    [row] = h.rows()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 4, None)


def test_retry_after_is_honoured_and_pauses_the_channel(h):
    mail(h).script = [AlertError("HTTP 429", retry_after=7)]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(31, step=1)
    [first] = h.store.alert_attempts()
    retry_at = from_iso(first["retry_at"])
    assert 7 <= (retry_at - from_iso(first["at"])).total_seconds() <= 12
    assert h.store.channel_states()["mail"]["paused_until"] == first["retry_at"]
    h.run(60, step=1)
    second = h.store.alert_attempts()[1]
    assert from_iso(second["at"]) >= retry_at
    assert mail(h).keys() == {"neg:reviews:1": 1}


def test_a_permanent_failure_is_dead_lettered_after_exactly_one_attempt(h):
    mail(h).script = [AlertError("HTTP 400", permanent=True)]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(3600, step=30)
    assert len(mail(h).attempts) == 1
    [row] = h.rows()
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 1, "HTTP 400")
    assert h.store.alert_counts()["dead"] == 1


def test_a_broken_channel_is_probed_at_most_three_times_an_hour(h):
    mail(h).script = [AlertError("HTTP 401", broken=True)] * 100
    for minute in range(60):
        h.add(mention(f"m{minute}", "Acme is awful"))
        h.score()
        h.run(60)
    assert len(mail(h).attempts) <= 3
    state = h.store.channel_states()["mail"]
    assert state["broken_at"]
    assert state["broken_reason"] == "HTTP 401"


def test_alerts_that_keep_failing_are_dead_lettered_after_retention(h):
    mail(h).script = [AlertError("connection refused")] * 10_000
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(23 * 3600, step=300)
    assert h.rows()[0]["status"] == "pending"
    h.run(3600 + 300, step=300)
    [row] = h.rows()
    assert row["status"] == "dead"
    assert row["last_error"] == "not delivered within 24h (last error: connection refused)"
    assert mail(h).sent == []


def test_resend_puts_dead_letters_back(h):
    mail(h).script = [AlertError("HTTP 404", permanent=True)]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(40)
    [row] = h.store.dead_letters()
    assert h.store.resend_alerts(h.clock(), [row["id"]]) == 1
    h.run(10)
    assert mail(h).keys() == {"neg:reviews:1": 1}
    assert h.store.alert_counts()["dead"] == 0


def test_dead_letters_are_reported_on_the_operator_channel(tmp_path):
    h = harness(tmp_path)
    h.settings = h.settings.model_copy(
        update={"alerts": h.settings.alerts.model_copy(update={"operator_channel": "chat"})}
    )
    h.restart()
    mail(h).script = [AlertError("SMTP 554 rejected", permanent=True)]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(120)
    [(note, _)] = h.alerting.channels["chat"].sent  # type: ignore[attr-defined]
    assert note.kind == "health"
    assert "mail" in note.title
    assert note.details["Error"] == "SMTP 554 rejected"
    h.close()


# -- crashes, restarts and two senders -------------------------------------------------------------


def test_a_claim_left_by_a_crash_is_taken_again_after_the_lease(h):
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.clock.advance(30)
    assert h.store.claim_group(h.clock(), LEASE, "crashed-sender", ["mail"]) is not None
    h.run(LEASE.total_seconds() - 10)  # the crashed sender's lease still holds
    assert mail(h).sent == []
    h.run(20)
    assert mail(h).keys() == {"neg:reviews:1": 1}
    assert h.rows()[0]["attempts"] == 2


def test_a_late_finish_from_a_sender_that_lost_its_lease_changes_nothing(h):
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.clock.advance(30)
    slow = h.store.claim_group(h.clock(), LEASE, "slow", ["mail"])
    h.run(LEASE.total_seconds() + 10)  # another sender takes over and delivers
    from kuulo.store.outbox import AttemptResult

    assert h.store.finish_claim(slow, AttemptResult("transient", "k", "late"), h.clock()) == 0
    assert h.rows()[0]["status"] == "sent"


def test_two_senders_at_once_never_send_the_same_alert(tmp_path):
    h = harness(tmp_path)
    h.add(*negatives(40))
    h.score()
    h.clock.advance(31)
    sink = FakeChannel()
    lock = threading.Lock()
    original = sink.send

    def send(message, target):
        with lock:
            original(message, target)

    sink.send = send  # type: ignore[method-assign]

    def sender(seed: int) -> None:  # a "process": its own connection and Alerting
        with open_store(h.settings.database_path()) as store:
            alerting = Alerting(h.settings, {"mail": sink}, clock=h.clock, rng=seeded(seed))
            for _ in range(3):
                alerting.tick(store)

    threads = [threading.Thread(target=sender, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sink.sent) == 1
    assert sink.keys() == {f"neg:reviews:{i}": 1 for i in range(40)}
    h.close()


def test_a_clock_that_jumps_back_does_not_re_alert(h):
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(60)
    h.clock.advance(-3600)
    h.store.reset_scores("fake", "1", everything=True)
    h.score()
    h.run(600)
    assert mail(h).keys() == {"neg:reviews:1": 1}


# -- digests and quiet hours, with the real clock under time-machine -------------------------------


def test_daily_digest_goes_out_at_the_local_time(tmp_path):
    rules = rule_toml("daily", ["mail"], mode="digest", digest="daily", digest_at="08:00")
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False) as traveller:
        settings = load(
            tmp_path, channel_toml("mail", "MAIL") + rules, ENV, timezone="Europe/Helsinki"
        )
        channel = FakeChannel()
        alerting = Alerting(settings, {"mail": channel}, clock=utcnow, rng=seeded(1))
        with open_store(settings.database_path()) as store:
            store_mentions(store, negatives(3, published_at=utcnow()), utcnow())
            score_pending(store, FakeScorer(), 500, utcnow, planner=alerting.plan)
            traveller.shift(timedelta(hours=17, minutes=59))  # 07:59 Helsinki next day
            alerting.tick(store)
            assert channel.sent == []
            traveller.shift(timedelta(minutes=1))  # 08:00 Helsinki = 06:00 UTC
            alerting.tick(store)
            [(message, _)] = channel.sent
            assert message.digest
            assert message.count == 3
            assert "digest" in message.title


def test_quiet_hours_hold_instant_alerts_until_morning(tmp_path):
    rules = rule_toml("neg", ["mail"], quiet_hours="22:00-07:00")
    settings = load(tmp_path, channel_toml("mail", "MAIL") + rules, ENV, timezone="Europe/Helsinki")
    h = Harness(settings, channels={"mail": FakeChannel()})
    h.clock.now = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 23:00 in Helsinki
    h.add(mention("1", "Acme is awful", published_at=h.clock.now))
    h.score()
    h.run(7 * 3600 + 59 * 60, step=60)  # until 06:59 local
    assert mail(h).sent == []
    h.run(120, step=60)
    assert mail(h).keys() == {"neg:reviews:1": 1}
    h.close()


def test_a_failing_target_is_tried_once_per_run_not_once_per_group(tmp_path):
    rules = "".join(rule_toml(f"topic{n}", ["mail"], match=f"topic{n}") for n in range(10))
    h = harness(tmp_path, rules)
    mail(h).script = [AlertError("connection refused")] * 100
    h.add(*[mention(str(n), f"Acme is awful topic{n}") for n in range(10)])
    h.score()
    h.clock.advance(30)
    h.tick()
    assert len(mail(h).attempts) == 1
    h.close()


def test_expired_alerts_are_reported_on_the_operator_channel(tmp_path):
    h = harness(tmp_path)
    h.settings = h.settings.model_copy(
        update={"alerts": h.settings.alerts.model_copy(update={"operator_channel": "chat"})}
    )
    h.restart()
    mail(h).script = [AlertError("connection refused")] * 10_000
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(25 * 3600, step=600)
    [note] = [m for m, _ in h.alerting.channels["chat"].sent]  # type: ignore[attr-defined]
    assert note.title == "kuulo: 1 alert(s) expired undelivered"
    h.close()
