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
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kuulo import registry
from kuulo.alert_model import AlertIntent
from kuulo.clock import utcnow
from kuulo.delivery import Deliverer, DeliveryReport
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
