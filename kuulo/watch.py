"""Periodic alert checks, run before delivery on each tick: spikes and health.

* Spikes (``[[rules]] kind = "spike"``): per brand, the trailing hour's volume and negative
  share against a rolling baseline (method in ``kuulo/spikes.py``); one alert per spike.
* Health (to ``[alerts] operator_channel``): a source with no successful run for
  ``stale_after`` of its intervals (failing, or paused by a long Retry-After), and a channel
  marked broken. Once per episode, not every tick: the alert key names the episode (the last
  success, the pause, the moment the channel broke) and the outbox ignores a key it has seen.

Both are queued in the outbox like any alert, so they group, retry and dead-letter the same
way. Checks are throttled in memory (health every minute, spikes every five).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kuulo.alert_model import AlertIntent
from kuulo.clock import from_iso, to_iso
from kuulo.delivery import operator_intents
from kuulo.protocols import AlertChannel
from kuulo.rules import after_quiet_hours
from kuulo.settings import Settings
from kuulo.spikes import MIN_HISTORY, Measure, describe, has_ended, hour_keys, is_spike, measure
from kuulo.store.outbox import OutboxStore

log = logging.getLogger("kuulo.watch")

HEALTH_EVERY = timedelta(minutes=1)
SPIKES_EVERY = timedelta(minutes=5)


class Watcher:
    """Spike and health checks for one process (state that matters lives in the store)."""

    def __init__(
        self,
        settings: Settings,
        channels: Mapping[str, AlertChannel],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.channels = channels
        self.clock = clock
        self.spike_rules = [r for r in settings.rules if r.kind == "spike" and r.enabled]
        self._last: dict[str, datetime] = {}

    def run(self, store: OutboxStore) -> int:
        """Queue whatever the checks that are due find; returns alerts queued."""
        queued = 0
        if self._due("health", HEALTH_EVERY):
            queued += self.check_health(store)
        if self.spike_rules and self._due("spikes", SPIKES_EVERY):
            queued += self.check_spikes(store)
        return queued

    def _due(self, check: str, every: timedelta) -> bool:
        now, last = self.clock(), self._last.get(check)
        if last is not None and timedelta(0) <= now - last < every:
            return False
        self._last[check] = now
        return True

    # -- health ------------------------------------------------------------------------------

    def check_health(self, store: OutboxStore) -> int:
        operator = self.settings.alerts.operator_channel
        if not operator or operator not in self.channels:
            return 0
        now = self.clock()
        notes = self._source_notes(store, now) + self._channel_notes(store, operator)
        intents = [
            i for key, payload in notes
            for i in operator_intents(key, operator, self.channels, payload, now)
        ]  # fmt: skip
        return store.enqueue_alerts(intents, now) if intents else 0

    def _source_notes(self, store: OutboxStore, now: datetime) -> list[tuple[str, dict[str, str]]]:
        every = {s.name: s.every for s in self.settings.sources if s.enabled}
        limit = self.settings.alerts.stale_after
        notes = []
        for row in store.source_health():
            if row["name"] not in every or row["last_run_at"] is None:
                continue
            window = every[row["name"]] * limit
            last_ok = from_iso(row["last_ok_at"]) if row["last_ok_at"] else None
            paused = from_iso(row["paused_until"]) if row["paused_until"] else None
            if paused and paused - now > window:
                notes.append(_paused_note(row, paused))
            elif (last_ok is None and row["failures"] >= limit) or (
                last_ok is not None and now - last_ok > window and row["failures"]
            ):
                notes.append(_stale_note(row, limit))
        return notes

    def _channel_notes(self, store: OutboxStore, operator: str) -> list[tuple[str, dict[str, str]]]:
        notes = []
        for name, state in store.channel_states().items():
            if state["broken_at"] and name != operator:
                payload = {
                    "title": f"kuulo: channel {name} is broken",
                    "summary": "Its credentials were refused, so its alerts are dead-lettered."
                    f" Fix the URL, then run `kuulo alerts test --channel {name}` and"
                    " `kuulo alerts resend --all-dead`.",
                    "Error": str(state["broken_reason"]),
                }
                notes.append((f"health:channel:{name}:{state['broken_at']}", payload))
        return notes

    # -- spikes ------------------------------------------------------------------------------

    def check_spikes(self, store: OutboxStore) -> int:
        now = self.clock()
        alerts = self.settings.alerts
        queued = 0
        for brand in [b.name for b in self.settings.brands]:
            first = store.first_mention_at(brand)
            if first is None or now - from_iso(first) < MIN_HISTORY:
                continue
            hours = hour_keys(now - alerts.spike_baseline, now - timedelta(hours=1))
            buckets = store.hourly_brand_counts(brand, now - alerts.spike_baseline, now)
            current = _trailing_hour(store, brand, now)
            for m in measure(buckets, hours, current):
                queued += self._spike_episode(store, brand, m, now)
        return queued

    def _spike_episode(self, store: OutboxStore, brand: str, m: Measure, now: datetime) -> int:
        alerts = self.settings.alerts
        key = f"spike:{brand}:{m.metric}"
        state = store.get_alert_state(key) or {}
        if state.get("active") and has_ended(m, alerts.spike_threshold, alerts.spike_min_count):
            store.set_alert_state(key, {"active": False, "ended": to_iso(now)}, now)
            return 0
        if not is_spike(m, alerts.spike_threshold, alerts.spike_min_count):
            return 0
        last = state.get("last_alert")
        if state.get("active") and last and now - from_iso(last) < alerts.repeat_interval:
            return 0  # one alert per spike; a long one is reported again after repeat_interval
        since = state.get("since") if state.get("active") else to_iso(now)
        store.set_alert_state(key, {"active": True, "since": since, "last_alert": to_iso(now)}, now)
        log.info("spike: %s %s z=%.1f (%d mentions)", brand, m.metric, m.z, m.count)
        intents = self._spike_intents(
            f"{key}:{since}:{to_iso(now)}", brand, describe(brand, m), now
        )
        return store.enqueue_alerts(intents, now)

    def _spike_intents(
        self, key: str, brand: str, payload: dict[str, str], now: datetime
    ) -> list[AlertIntent]:
        zone = ZoneInfo(self.settings.kuulo.timezone)
        targets = {c.name: len(c.urls) for c in self.settings.channels if c.enabled}
        intents = []
        for rule in self.spike_rules:
            if rule.brands is not None and brand not in rule.brands:
                continue
            due = after_quiet_hours(now, *rule.quiet, zone) if rule.quiet else now
            for channel in rule.channels:
                for target in range(targets.get(channel, 0)):
                    intents.append(
                        AlertIntent(
                            alert_key=f"{rule.name}:{key}",
                            rule=rule.name,
                            channel=channel,
                            target=target,
                            due_at=due,
                            kind="spike",
                            brand=brand,
                            payload=payload,
                        )
                    )
        return intents


def _trailing_hour(store: OutboxStore, brand: str, now: datetime) -> tuple[int, int]:
    found = store.hourly_brand_counts(brand, now - timedelta(hours=1), now + timedelta(seconds=1))
    return sum(c for c, _ in found.values()), sum(n for _, n in found.values())


def _stale_note(row: dict[str, object], limit: int) -> tuple[str, dict[str, str]]:
    payload = {
        "title": f"kuulo: source {row['name']} is failing",
        "summary": f"No successful run in {limit} of its intervals"
        f" (last success: {row['last_ok_at'] or 'never'}). See `kuulo status`.",
        "Last error": str(row["last_error"] or "-"),
        "Failures in a row": str(row["failures"]),
    }
    return f"health:source:{row['name']}:{row['last_ok_at'] or 'never'}", payload


def _paused_note(row: dict[str, object], paused: datetime) -> tuple[str, dict[str, str]]:
    payload = {
        "title": f"kuulo: source {row['name']} is paused",
        "summary": f"The source asked us to wait until {to_iso(paused)} (rate limit or"
        " Retry-After); it will miss several runs.",
        "Last error": str(row["last_error"] or "-"),
    }
    return f"health:paused:{row['name']}:{row['paused_until']}", payload
