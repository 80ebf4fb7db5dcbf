"""When to alert: rule matching and scheduling. Deciding only, never sending; pure, no I/O.

A rule matches a freshly scored mention when every condition it sets holds (brands, sources,
sentiment, score threshold, keyword query, reach, star rating, language). Each match becomes
one :class:`~kuulo.alert_model.AlertIntent` per target of each of the rule's channels, with
the stable key ``f"{rule}:{mention_id}"`` so the same mention can never alert the same target
twice. ``due_at`` is when the alert may go out: after ``group_wait`` (instant rules, so a burst
is batched), at the next digest slot (digest rules), and never inside the rule's quiet hours.
All wall-clock arithmetic is done in the owner's time zone (``[kuulo] timezone``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kuulo.alert_model import AlertIntent, MentionFacts
from kuulo.matching import BrandQuery
from kuulo.settings_alerts import RuleSettings


@dataclass(frozen=True)
class Rule:
    """A rule with its keyword query parsed once."""

    settings: RuleSettings
    query: BrandQuery | None = None

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> Rule:
        return cls(settings, BrandQuery(settings.match) if settings.match else None)

    @property
    def name(self) -> str:
        return self.settings.name

    def brand_for(self, facts: MentionFacts) -> str | None:
        """The brand this rule alerts the mention for, or None if the rule skips the mention."""
        wanted = self.settings.brands
        if wanted is None:
            return facts.brands[0] if facts.brands else ""
        return next((b for b in wanted if b in facts.brands), None)

    def matches(self, facts: MentionFacts, label: str, score: float | None) -> bool:
        """Every condition the rule sets holds for this scored mention."""
        s = self.settings
        checks = (
            s.enabled and s.kind == "mention",
            s.sources is None or facts.source_name in s.sources,
            s.sentiment == "any" or label == s.sentiment,
            s.max_score is None or (score is not None and score <= s.max_score),
            s.min_reach is None or (facts.reach is not None and facts.reach >= s.min_reach),
            s.max_rating is None or (facts.rating is not None and facts.rating <= s.max_rating),
            s.languages is None or facts.language in s.languages,
        )
        if not all(checks) or self.brand_for(facts) is None:
            return False
        return self.query is None or self.query.matches(_searchable(facts))


@dataclass(frozen=True)
class Schedule:
    """Timing shared by every rule: the owner's time zone and the grouping wait."""

    timezone: ZoneInfo
    group_wait: timedelta
    max_age: timedelta


def plan_mention(
    rules: Sequence[Rule],
    facts: MentionFacts,
    label: str,
    score: float | None,
    now: datetime,
    schedule: Schedule,
    targets: Mapping[str, int],
) -> list[AlertIntent]:
    """The alerts one scored mention triggers (none for mentions older than ``max_age``).

    ``targets`` maps each configured channel to its number of targets (URLs).
    """
    if now - facts.published_at > schedule.max_age:
        return []  # a backfill or a re-score of old mentions must not page anyone
    intents: list[AlertIntent] = []
    for rule in rules:
        if not rule.matches(facts, label, score):
            continue
        due = due_at(rule.settings, now, schedule)
        brand = rule.brand_for(facts) or None
        for channel in rule.settings.channels:
            intents += [
                _intent(rule, facts, channel, target, due, brand)
                for target in range(targets.get(channel, 0))
            ]
    return intents


def _intent(
    rule: Rule, facts: MentionFacts, channel: str, target: int, due: datetime, brand: str | None
) -> AlertIntent:
    return AlertIntent(
        alert_key=f"{rule.name}:{facts.id}",
        rule=rule.name,
        channel=channel,
        target=target,
        due_at=due,
        brand=brand,
        mention_id=facts.id,
        mention_version=facts.version,
    )


def due_at(rule: RuleSettings, now: datetime, schedule: Schedule) -> datetime:
    """When an alert of this rule raised ``now`` may be sent (UTC)."""
    tz = schedule.timezone
    if rule.mode == "digest":
        at = next_digest(now, rule.digest, rule.digest_time, tz)
    else:
        at = now + schedule.group_wait
    if rule.quiet is not None:
        at = after_quiet_hours(at, *rule.quiet, tz)
    return at


def next_digest(now: datetime, every: str, at: time, tz: ZoneInfo) -> datetime:
    """The next digest slot strictly after ``now``: the next local full hour, or ``at`` daily."""
    local = now.astimezone(tz)
    if every == "hourly":
        hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return hour + timedelta(hours=1)
    return next_local_time(now, at, tz)


def next_local_time(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first moment after ``now`` when the wall clock in ``tz`` shows ``at`` (UTC).

    On a DST change a wall time that does not exist is taken at the old offset (PEP 495),
    which is at most an hour late, never skipped.
    """
    day = now.astimezone(tz).date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), at, tzinfo=tz).astimezone(UTC)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a wall time recurs within three days")


def in_quiet_hours(moment: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    """``start <= local time < end``; a span like 22:00-07:00 wraps past midnight."""
    t = moment.astimezone(tz).time()
    if start < end:
        return start <= t < end
    return t >= start or t < end


def after_quiet_hours(moment: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    """``moment`` itself, or the end of the quiet hours it falls in."""
    if not in_quiet_hours(moment, start, end, tz):
        return moment
    return next_local_time(moment, end, tz)


def _searchable(facts: MentionFacts) -> str:
    return f"{facts.title}\n{facts.text}" if facts.title else facts.text
