"""Alert settings: ``[alerts]``, ``[[channels]]`` and ``[[rules]]``.

Kept apart from ``settings.py`` so alerting can grow without touching the core loader. Channel
URLs carry passwords and webhook tokens, so they are secrets (``{ "$env" = "NAME" }``): masked
in ``repr``, never echoed in errors, never stored in the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from kuulo.errors import PluginError, QueryError
from kuulo.settings_errors import Problem

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(value: str) -> time:
    """``"08:00"`` -> ``time(8, 0)``; 24-hour ``HH:MM`` only."""
    m = _CLOCK.match(value.strip())
    if m is None:
        raise ValueError('expected a 24-hour time such as "08:00"')
    return time(int(m.group(1)), int(m.group(2)))


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """``"22:00-07:00"`` -> (start, end); the span may wrap past midnight."""
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError('expected a span such as "22:00-07:00"')
    first, last = parse_clock(start), parse_clock(end)
    if first == last:
        raise ValueError("quiet hours must not start and end at the same time")
    return first, last


def _duration(value: object) -> timedelta:
    from kuulo.settings import parse_duration  # late: settings imports this module

    return parse_duration(value)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertSettings(_Table):
    """``[alerts]``: grouping, retries and retention shared by every rule and channel."""

    group_wait: timedelta = Field(
        timedelta(seconds=30), description="wait after the first alert of a group, to batch"
    )
    group_interval: timedelta = Field(
        timedelta(minutes=5), description="at most one message per rule and channel per this"
    )
    repeat_interval: timedelta = Field(
        timedelta(hours=4), description="a spike or health alert is not repeated within this"
    )
    retention: timedelta = Field(
        timedelta(hours=24), description="undelivered alerts older than this are dead-lettered"
    )
    max_age: timedelta = Field(
        timedelta(hours=24), description="mentions published longer ago than this never alert"
    )
    backoff_base: timedelta = Field(timedelta(seconds=5), description="first retry delay")
    backoff_cap: timedelta = Field(timedelta(minutes=5), description="longest retry delay")
    top_items: int = Field(10, ge=1, le=100, description="mentions listed in a grouped message")
    operator_channel: str | None = Field(
        None, description="channel for health alerts (sources failing, channels broken)"
    )
    stale_after: int = Field(
        3, ge=1, le=100, description="missed source runs before a health alert"
    )
    spike_baseline: timedelta = Field(
        timedelta(days=7), description="history a spike is measured against"
    )
    spike_min_count: int = Field(10, ge=1, description="mentions in an hour before it can spike")
    spike_threshold: float = Field(3.5, gt=0, description="robust z-score that counts as a spike")

    @field_validator(
        "group_wait", "group_interval", "repeat_interval", "retention", "max_age",
        "backoff_base", "backoff_cap", "spike_baseline", mode="before",
    )  # fmt: skip
    @classmethod
    def _durations(cls, value: object) -> timedelta:
        return _duration(value)


class ChannelSettings(_Table):
    """``[[channels]]``: where alerts go. ``urls`` are secrets (one Apprise URL each)."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    kind: str = Field("apprise", min_length=1)
    urls: tuple[SecretStr, ...] = Field(min_length=1)
    enabled: bool = True
    _missing: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="wrap")
    @classmethod
    def _note_missing(
        cls, data: Any, handler: ModelWrapValidatorHandler[ChannelSettings]
    ) -> ChannelSettings:
        """Remember which ``$env`` variables are unset: the channel is then disabled."""
        from kuulo.settings import MissingSecret

        urls = data.get("urls") if isinstance(data, dict) else None
        missing = [u.variable for u in urls or () if isinstance(u, MissingSecret)]
        model = handler(data)
        model._missing = tuple(missing)
        return model

    @field_validator("urls", mode="before")
    @classmethod
    def _secret_urls(cls, value: object) -> object:
        """Only ``$env``/``$file`` values: a URL written inline would sit in the file."""
        from kuulo.settings import _require_indirect

        if not isinstance(value, list | tuple):
            raise ValueError('expected a list of secrets: urls = [{ "$env" = "VARIABLE" }]')
        return tuple(_require_indirect(v) for v in value)

    @property
    def disabled_reason(self) -> str | None:
        if self._missing:
            return f"disabled: set the environment variable {', '.join(self._missing)}"
        if not self.enabled:
            return "disabled in the configuration (enabled = false)"
        return None

    def url(self, target: int) -> str:
        """The secret URL of one target. Only the channel plug-in should call this."""
        return self.urls[target].get_secret_value()


class RuleSettings(_Table):
    """``[[rules]]``: which scored mentions alert, where, and when.

    ``kind = "spike"`` rules alert on volume / negative-share spikes of their brands instead
    (only ``brands``, ``channels``, ``quiet_hours`` and ``enabled`` apply to them).
    """

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    kind: Literal["mention", "spike"] = "mention"
    brands: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    sentiment: Literal["negative", "neutral", "positive", "any"] = "negative"
    max_score: float | None = Field(None, ge=-1, le=1)
    match: str | None = Field(None, min_length=1)
    min_reach: int | None = Field(None, ge=0)
    max_rating: float | None = Field(None, ge=0)
    languages: tuple[str, ...] | None = None
    channels: tuple[str, ...] = Field(min_length=1)
    mode: Literal["instant", "digest"] = "instant"
    digest: Literal["hourly", "daily"] = "daily"
    digest_at: str = "08:00"
    quiet_hours: str | None = None
    enabled: bool = True

    @field_validator("digest_at")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value

    @property
    def digest_time(self) -> time:
        return parse_clock(self.digest_at)

    @property
    def quiet(self) -> tuple[time, time] | None:
        return parse_quiet_hours(self.quiet_hours) if self.quiet_hours else None


KNOWN_KEYS: dict[str, list[str]] = {
    "[alerts]": list(AlertSettings.model_fields),
    "[[channels]]": list(ChannelSettings.model_fields),
    "[[rules]]": list(RuleSettings.model_fields),
}


def check_alert_references(
    brands: Sequence[str],
    sources: Sequence[str],
    channels: Sequence[ChannelSettings],
    rules: Sequence[RuleSettings],
    alerts: AlertSettings,
) -> list[Problem]:
    """Names unique, every reference resolves, every channel kind is registered."""
    problems = _check_channels(channels)
    names = [c.name for c in channels]
    if alerts.operator_channel and alerts.operator_channel not in names:
        problems.append(
            Problem(
                "[alerts]",
                "operator_channel",
                _unknown("[[channels]]", alerts.operator_channel, names),
            )
        )
    if alerts.backoff_cap < alerts.backoff_base:
        problems.append(Problem("[alerts]", "backoff_cap", "must not be shorter than backoff_base"))
    rule_names = [r.name for r in rules]
    for i, rule in enumerate(rules):
        table = f"[[rules]] #{i + 1} (name = {rule.name!r})"
        if rule_names.count(rule.name) > 1:
            problems.append(Problem(table, "name", "rule names must be unique"))
        problems += _check_rule(table, rule, brands, sources, names)
    return problems


def _check_channels(channels: Sequence[ChannelSettings]) -> list[Problem]:
    from kuulo import registry  # late: the registry imports plug-ins that import kuulo

    problems: list[Problem] = []
    names = [c.name for c in channels]
    for i, channel in enumerate(channels):
        table = f"[[channels]] #{i + 1} (name = {channel.name!r})"
        if names.count(channel.name) > 1:
            problems.append(Problem(table, "name", "channel names must be unique"))
        try:
            cls = registry.load(registry.CHANNELS, channel.kind)
        except PluginError as exc:
            problems.append(Problem(table, "kind", str(exc)))
            continue
        check = getattr(cls, "check_settings", None)
        if check is not None and not channel.disabled_reason:
            problems += [Problem(table, "urls", message) for message in check(channel)]
    return problems


def _check_rule(
    table: str, rule: RuleSettings, brands: Sequence[str], sources: Sequence[str],
    channels: Sequence[str],
) -> list[Problem]:  # fmt: skip
    from kuulo.matching import BrandQuery

    problems = [
        Problem(table, key, _unknown(kind, name, known))
        for key, kind, wanted, known in (
            ("brands", "[[brands]]", rule.brands or (), brands),
            ("sources", "[[sources]]", rule.sources or (), sources),
            ("channels", "[[channels]]", rule.channels, channels),
        )
        for name in wanted
        if name not in known
    ]
    if rule.match is not None:
        try:
            BrandQuery(rule.match)
        except QueryError as exc:
            problems.append(Problem(table, "match", str(exc)))
    return problems


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    return f"no {kind} entry named {name!r} (known: {', '.join(known) or 'none'})"
