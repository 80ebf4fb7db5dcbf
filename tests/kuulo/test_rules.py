"""Rules, pure: which scored mentions alert, for which brand, with which key and when."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kuulo.alert_model import MentionFacts
from kuulo.rules import (
    Rule,
    Schedule,
    after_quiet_hours,
    due_at,
    in_quiet_hours,
    next_digest,
    plan_mention,
)
from kuulo.settings_alerts import RuleSettings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HELSINKI = ZoneInfo("Europe/Helsinki")
SCHEDULE = Schedule(HELSINKI, timedelta(seconds=30), timedelta(hours=24))


def rule(**keys: Any) -> Rule:
    keys.setdefault("name", "neg")
    keys.setdefault("channels", ("mail",))
    return Rule.from_settings(RuleSettings.model_validate(keys))


def facts(**keys: Any) -> MentionFacts:
    base: dict[str, Any] = {
        "id": "reviews:1", "version": 1, "source_name": "reviews", "brands": ("Acme",),
        "text": "The anvil broke, I want a refund", "published_at": NOW - timedelta(minutes=3),
        "language": "en", "reach": 1500, "rating": 1.0,
    }  # fmt: skip
    return MentionFacts(**{**base, **keys})


# -- matching -----------------------------------------------------------------------------------


def test_defaults_match_any_negative_mention_of_any_brand():
    r = rule()
    assert r.matches(facts(), "negative", -0.7)
    assert not r.matches(facts(), "neutral", 0.0)
    assert not r.matches(facts(), "positive", 0.6)
    assert r.brand_for(facts(brands=("Globex", "Acme"))) == "Globex"


@pytest.mark.parametrize(
    ("keys", "mention", "expected"),
    [
        ({"brands": ["Acme"]}, {}, True),
        ({"brands": ["Globex"]}, {}, False),
        ({"sources": ["reviews"]}, {}, True),
        ({"sources": ["news"]}, {}, False),
        ({"max_score": -0.5}, {}, True),
        ({"max_score": -0.9}, {}, False),
        ({"min_reach": 1000}, {}, True),
        ({"min_reach": 1000}, {"reach": 999}, False),
        ({"min_reach": 1}, {"reach": None}, False),
        ({"max_rating": 2}, {}, True),
        ({"max_rating": 2}, {"rating": 3.0}, False),
        ({"max_rating": 2}, {"rating": None}, False),
        ({"languages": ["en", "fi"]}, {}, True),
        ({"languages": ["fi"]}, {}, False),
        ({"match": "refund OR lawsuit"}, {}, True),
        ({"match": "lawsuit"}, {}, False),
        ({"match": "anvil -refund"}, {}, False),
        ({"match": "catalogue"}, {"title": "Spring catalogue"}, True),
        ({"enabled": False}, {}, False),
    ],
)
def test_every_condition_must_hold(keys, mention, expected):
    assert rule(**keys).matches(facts(**mention), "negative", -0.7) is expected


def test_sentiment_any_and_positive_rules():
    assert rule(sentiment="any").matches(facts(), "positive", 0.9)
    assert rule(sentiment="positive").matches(facts(), "positive", 0.9)
    assert not rule(sentiment="positive").matches(facts(), "negative", -0.9)


def test_max_score_needs_a_score():
    assert not rule(max_score=0).matches(facts(), "negative", None)


def test_brand_is_the_first_of_the_rules_brands_that_the_mention_has():
    r = rule(brands=["Globex", "Acme"])
    assert r.brand_for(facts(brands=("Acme", "Globex"))) == "Globex"


# -- planning -----------------------------------------------------------------------------------


def test_one_intent_per_channel_target_with_a_stable_key():
    r = rule(channels=["mail", "chat"])
    intents = plan_mention([r], facts(), "negative", -0.7, NOW, SCHEDULE, {"mail": 2, "chat": 1})
    assert [(i.channel, i.target) for i in intents] == [("mail", 0), ("mail", 1), ("chat", 0)]
    assert {i.alert_key for i in intents} == {"neg:reviews:1"}
    assert {i.group_key for i in intents} == {"neg/mail/0", "neg/mail/1", "neg/chat/0"}
    assert all(i.mention_version == 1 and i.brand == "Acme" for i in intents)
    assert intents[0].due_at == NOW + timedelta(seconds=30)


def test_two_rules_give_two_keys_and_a_disabled_channel_none():
    rules = [rule(name="neg"), rule(name="refunds", match="refund")]
    intents = plan_mention(rules, facts(), "negative", -0.7, NOW, SCHEDULE, {"mail": 1})
    assert sorted(i.alert_key for i in intents) == ["neg:reviews:1", "refunds:reviews:1"]
    assert plan_mention(rules, facts(), "negative", -0.7, NOW, SCHEDULE, {}) == []


def test_mentions_older_than_max_age_never_alert():
    old = facts(published_at=NOW - timedelta(hours=25))
    assert plan_mention([rule()], old, "negative", -0.7, NOW, SCHEDULE, {"mail": 1}) == []


# -- timing -------------------------------------------------------------------------------------


def test_hourly_digest_is_the_next_local_full_hour():
    assert next_digest(NOW, "hourly", time(8), HELSINKI) == datetime(2026, 11, 25, 13, tzinfo=UTC)
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+05:45: local hours are not UTC hours
    slot = next_digest(NOW, "hourly", time(8), kathmandu)
    assert slot.astimezone(kathmandu).minute == 0
    assert timedelta(0) < slot - NOW <= timedelta(hours=1)


def test_daily_digest_is_the_next_local_digest_time():
    # 12:00 UTC is 14:00 in Helsinki (EET): 08:00 tomorrow local is 06:00 UTC
    assert next_digest(NOW, "daily", time(8), HELSINKI) == datetime(2026, 11, 26, 6, tzinfo=UTC)
    early = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 07:00 local: today's 08:00 is ahead
    assert next_digest(early, "daily", time(8), HELSINKI) == datetime(2026, 11, 25, 6, tzinfo=UTC)


def test_daily_digest_across_the_spring_dst_change():
    # Helsinki moves to EEST (UTC+3) on 29 March 2026: 08:00 local is 05:00 UTC from then on
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_digest(before, "daily", time(8), HELSINKI) == datetime(2026, 3, 29, 5, tzinfo=UTC)


def test_a_wall_time_skipped_by_dst_is_late_never_lost():
    # 03:30 does not exist in Helsinki on 29 March 2026 (03:00 -> 04:00)
    before = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    slot = next_digest(before, "daily", time(3, 30), HELSINKI)
    assert (
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC) < slot <= datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("utc_hour", "quiet"),
    [(19, False), (20, True), (23, True), (4, True), (5, False), (12, False)],
)
def test_quiet_hours_wrap_past_midnight(utc_hour, quiet):
    moment = datetime(2026, 11, 25, utc_hour, 0, tzinfo=UTC)  # Helsinki = UTC + 2
    assert in_quiet_hours(moment, time(22), time(7), HELSINKI) is quiet


def test_an_alert_in_quiet_hours_waits_for_their_end():
    late = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 23:00 local
    assert after_quiet_hours(late, time(22), time(7), HELSINKI) == datetime(
        2026, 11, 26, 5, 0, tzinfo=UTC
    )
    assert after_quiet_hours(NOW, time(22), time(7), HELSINKI) == NOW


def test_due_at_combines_mode_and_quiet_hours():
    instant = RuleSettings(name="r", channels=("m",), quiet_hours="22:00-07:00")
    late = datetime(2026, 11, 25, 19, 59, 50, tzinfo=UTC)  # 21:59:50 local + 30 s wait
    assert due_at(instant, late, SCHEDULE) == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    digest = RuleSettings(
        name="r", channels=("m",), mode="digest", digest="daily", digest_at="06:00",
        quiet_hours="22:00-07:00",
    )  # fmt: skip
    assert due_at(digest, NOW, SCHEDULE) == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
