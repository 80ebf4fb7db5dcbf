"""``[alerts]``, ``[[channels]]`` and ``[[rules]]``: defaults, references, secrets, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kuulo.errors import ConfigError
from kuulo.settings_alerts import AlertSettings
from tests.alerts.helpers import channel_toml, load, rule_toml

URL = "mailto://owner:CANARY-settings-pw@mail.example:587?to=me@example.com"
ENV = {"MAIL": URL}


def problems(tmp_path, body: str, environ=ENV) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body, environ)
    return str(info.value)


def test_a_full_alert_configuration_loads(tmp_path):
    body = channel_toml("owner-email", "MAIL") + rule_toml(
        "negative-reviews", ["owner-email"], brands=["Acme"], sources=["reviews"],
        max_score=-0.3, match="refund OR lawsuit", min_reach=100, max_rating=2,
        languages=["en", "fi"], mode="digest", digest="hourly", quiet_hours="22:00-07:00",
    )  # fmt: skip
    body += '\n[alerts]\ngroup_wait = "1m"\nretention = "2d"\noperator_channel = "owner-email"\n'
    settings = load(tmp_path, body, ENV)
    [rule] = settings.rules
    assert rule.sentiment == "negative"
    assert rule.quiet is not None
    assert settings.alerts.group_wait == timedelta(minutes=1)
    assert settings.alerts.retention == timedelta(days=2)
    assert settings.alerts.group_interval == timedelta(minutes=5)
    [channel] = settings.channels
    assert channel.url(0) == URL
    assert channel.disabled_reason is None
    assert "CANARY" not in repr(settings)
    assert "CANARY" not in str(settings.model_dump())


def test_alert_defaults_follow_alertmanager():
    alerts = AlertSettings()
    assert (alerts.group_wait, alerts.group_interval, alerts.repeat_interval) == (
        timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=4),
    )  # fmt: skip
    assert (alerts.backoff_base, alerts.backoff_cap) == (timedelta(seconds=5), timedelta(minutes=5))
    assert alerts.retention == timedelta(hours=24)


def test_an_inline_url_is_refused_without_echoing_it(tmp_path):
    body = f'\n[[channels]]\nname = "mail"\nurls = ["{URL}"]\n'
    text = problems(tmp_path, body)
    assert "[[channels]] #1" in text
    assert '{ "$env" = "VARIABLE" }' in text
    assert "CANARY" not in text


def test_a_missing_variable_disables_the_channel_and_names_it(tmp_path):
    body = channel_toml("mail", "KUULO_OWNER_MAIL") + rule_toml("neg", ["mail"])
    settings = load(tmp_path, body, {})
    assert settings.channels[0].disabled_reason == (
        "disabled: set the environment variable KUULO_OWNER_MAIL"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rule_toml("neg", ["nowhere"]), "no [[channels]] entry named 'nowhere'"),
        (rule_toml("neg", ["mail"], brands=["Initech"]), "no [[brands]] entry named 'Initech'"),
        (rule_toml("neg", ["mail"], sources=["x-feed"]), "no [[sources]] entry named 'x-feed'"),
        (rule_toml("neg", ["mail"], match="refund OR"), "key 'match'"),
        (rule_toml("neg", ["mail"], digest_at="8am"), "24-hour time"),
        (rule_toml("neg", ["mail"], quiet_hours="22-07"), "24-hour time"),
        (rule_toml("neg", ["mail"], mode="sometimes"), "key 'mode'"),
        (rule_toml("neg", ["mail"], sentimnet="negative"), "did you mean 'sentiment'"),
        (rule_toml("neg", []), "key 'channels'"),
        (rule_toml("neg", ["mail"]) + rule_toml("neg", ["mail"]), "rule names must be unique"),
        ('\n[alerts]\ngroup_wiat = "1m"\n', "did you mean 'group_wait'"),
        ('\n[alerts]\noperator_channel = "pager"\n', "no [[channels]] entry named 'pager'"),
        ('\n[alerts]\nbackoff_cap = "1s"\n', "must not be shorter than backoff_base"),
        ('\n[alerts]\ngroup_wait = "soon"\n', "expected a duration"),
    ],
)
def test_problems_name_the_table_and_key(tmp_path, body, expected):
    text = problems(tmp_path, channel_toml("mail", "MAIL") + body)
    assert expected in text
    assert "CANARY" not in text


def test_channel_problems(tmp_path):
    text = problems(tmp_path, channel_toml("mail", "MAIL").replace("apprise", "pigeon"))
    assert "no kuulo.channels plug-in named 'pigeon'" in text
    text = problems(tmp_path, channel_toml("mail", "MAIL"), {"MAIL": "nonsense://CANARY@x"})
    assert "URL #1 is not a valid apprise URL (scheme 'nonsense')" in text
    assert "CANARY" not in text
    text = problems(tmp_path, channel_toml("mail", "MAIL") + channel_toml("mail", "MAIL"))
    assert "channel names must be unique" in text


def test_environment_overrides_reach_the_alerts_table(tmp_path):
    settings = load(tmp_path, "", {"KUULO_ALERTS__GROUP_INTERVAL": "10m"})
    assert settings.alerts.group_interval == timedelta(minutes=10)
