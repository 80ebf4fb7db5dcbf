"""Alerting wired from the settings: the planner used while scoring, and the deliver stage.

The scheduler holds one :class:`Alerting`; ``plan`` is handed to ``score_pending`` (so alert
intents commit with their scores) and ``tick`` runs after scoring on every tick and in
``kuulo run --once`` (so cron works too): periodic checks (spikes, source health, broken
channels), then delivery of whatever is due.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kuulo import registry
from kuulo.alert_model import AlertIntent, AlertItem, AlertMessage
from kuulo.clock import from_iso, utcnow
from kuulo.delivery import Deliverer, DeliveryReport
from kuulo.errors import AlertError, KuuloError
from kuulo.model import Score
from kuulo.protocols import AlertChannel, ChannelContext
from kuulo.rules import Rule, Schedule, plan_mention
from kuulo.settings import Settings
from kuulo.settings_alerts import ChannelSettings
from kuulo.store import PendingScore
from kuulo.store.outbox import OutboxStore
from kuulo.watch import Watcher

log = logging.getLogger("kuulo.alerting")


def build_channel(settings: ChannelSettings, clock: Callable[[], datetime]) -> AlertChannel:
    """The channel plug-in for one ``[[channels]]`` entry (found through the registry)."""
    cls = registry.load(registry.CHANNELS, settings.kind)
    ctx = ChannelContext(settings.name, clock, logging.getLogger(f"kuulo.alerts.{settings.name}"))
    channel: AlertChannel = cls(settings, ctx)
    return channel


def build_channels(settings: Settings, clock: Callable[[], datetime]) -> dict[str, AlertChannel]:
    """Every usable channel; disabled ones are skipped (their alerts wait, then dead-letter)."""
    channels = {}
    for ch in settings.channels:
        if ch.disabled_reason:
            log.warning("channel %s: %s", ch.name, ch.disabled_reason)
            continue
        channels[ch.name] = build_channel(ch, clock)
    return channels


class Alerting:
    """Rules, channels and the deliverer for one process."""

    def __init__(
        self,
        settings: Settings,
        channels: Mapping[str, AlertChannel],
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        alerts = settings.alerts
        self.settings = settings
        self.clock = clock
        self.channels = channels
        self.rules = [Rule.from_settings(r) for r in settings.rules]
        # a channel whose secret is missing still queues: its alerts go out once it is fixed
        self.targets = {c.name: len(c.urls) for c in settings.channels if c.enabled}
        zone = ZoneInfo(settings.kuulo.timezone)
        self.schedule = Schedule(zone, alerts.group_wait, alerts.max_age)
        self.deliverer = Deliverer(
            channels,
            alerts,
            timezone=settings.kuulo.timezone,
            digest_rules=frozenset(r.name for r in settings.rules if r.mode == "digest"),
            clock=clock,
            rng=rng,
        )
        self.watcher = Watcher(settings, channels, clock)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> Alerting:
        return cls(settings, build_channels(settings, clock), clock=clock)

    def plan(
        self,
        store: OutboxStore,
        scored: Sequence[tuple[PendingScore, Score]],
        now: datetime,
    ) -> list[AlertIntent]:
        """The alerts a batch of fresh scores triggers (an ``AlertPlanner``)."""
        labels = {
            r.settings.sentiment
            for r in self.rules
            if r.settings.enabled and r.settings.kind == "mention"
        }
        wanted = [(p, s) for p, s in scored if "any" in labels or s.label in labels]
        if not wanted:
            return []
        facts = store.alert_facts([p.id for p, _ in wanted])
        intents: list[AlertIntent] = []
        for pending, score in wanted:
            found = facts.get(pending.id)
            if found is None or found.version != pending.version:
                continue  # edited since it was read: it will be scored (and planned) again
            intents += plan_mention(
                self.rules, found, score.label, score.score, now, self.schedule, self.targets
            )
        return intents

    def tick(self, store: OutboxStore, *, once: bool = False) -> DeliveryReport:
        """Periodic checks, then delivery. Never raises: alerting must not stop collection.

        ``once`` (``kuulo run --once``): do not hold fresh alerts back for ``group_wait``.
        """
        try:
            self.watcher.run(store)
        except Exception:
            log.exception("alert checks failed")
        lookahead = self.settings.alerts.group_wait if once else timedelta(0)
        try:
            return self.deliverer.run(store, lookahead) if self.channels else DeliveryReport()
        except Exception:
            log.exception("alert delivery failed")
            return DeliveryReport()


# -- operator tools: channel state and test sends (``kuulo alerts``, the dashboard) ---------------


def channel_state(name: str, disabled: str | None, state: dict[str, Any] | None) -> str:
    """A channel's delivery state in words (``state``: its ``alert_channels`` row, if any)."""
    if disabled:
        return disabled
    state = state or {}
    if state.get("broken_at"):
        return (
            f"BROKEN since {state['broken_at']}: {state['broken_reason']}; next probe"
            f" {state['paused_until']} (after fixing: `kuulo alerts test --channel {name}`)"
        )
    if state.get("paused_until") and from_iso(state["paused_until"]) > utcnow():
        return f"rate limited until {state['paused_until']}"
    return "ok"


@dataclass(frozen=True, slots=True)
class ChannelCheck:
    """How a test message to one target ended; ``where`` and ``error`` never hold a secret."""

    target: int
    where: str  # the channel's describe(): the URL with secrets masked
    error: str | None = None  # None: delivered; else the failure and what to do about it

    @property
    def ok(self) -> bool:
        return self.error is None


def send_test(
    channel: ChannelSettings, timezone: str, clock: Callable[[], datetime] = utcnow
) -> list[ChannelCheck]:
    """Send a sample alert to every target of a channel now (``kuulo alerts test``).

    Raises :class:`KuuloError` for a disabled channel. The caller marks the channel OK in the
    store (``mark_channel_ok``) when every target accepted the message.
    """
    if reason := channel.disabled_reason:
        raise KuuloError(f"channel {channel.name}: {reason}")
    built = build_channel(channel, clock)
    message = sample_message(channel.name, timezone, clock())
    checks = []
    for target in range(built.targets):
        try:
            built.send(message, target)
        except AlertError as exc:
            error = f"{exc.message}{_advice(exc)}"
            checks.append(ChannelCheck(target, built.describe(target), error))
            continue
        checks.append(ChannelCheck(target, built.describe(target)))
    return checks


def _advice(exc: AlertError) -> str:
    if exc.broken:
        return " (credentials refused: fix the URL's user, password or token)"
    if exc.permanent:
        return " (rejected: check the URL's address, path and recipients)"
    return " (temporary: kuulo would retry this)"


def sample_message(channel: str, timezone: str, now: datetime) -> AlertMessage:
    """What a test sends: a sample alert, so the owner sees the real layout."""
    sample = AlertItem(
        alert_key=f"test:{channel}",
        source_name="example-reviews",
        source_kind="rss",
        text="This is a sample mention: the delivery was slow and nobody answered my email.",
        published_at=now,
        brand="Your brand",
        author="A. Customer",
        sentiment="negative",
        score=-0.62,
        url="https://example.com/reviews/1",
    )
    return AlertMessage(
        key=f"test:{channel}:{now:%Y%m%dT%H%M%SZ}",
        kind="test",
        rule="kuulo-test",
        channel=channel,
        title="kuulo test alert",
        count=1,
        created_at=now,
        timezone=timezone,
        items=(sample,),
        summary="If you can read this, kuulo can deliver alerts to this channel.",
    )
