"""The deliver stage: claim due outbox groups, send one message per group, record the attempt.

Contract (reliability.md Part 1): at-least-once per alert and target while the channel comes
back within ``[alerts] retention``; after that the alert is dead-lettered, never dropped.

* Claiming happens under ``BEGIN IMMEDIATE`` with a conditional UPDATE (``kuulo/store/outbox``),
  so two processes never send the same row; a row a crashed sender left in ``sending`` is
  claimed again once its lease (:data:`LEASE`) has passed.
* Grouping: one message per rule x channel x target per ``group_interval`` carries every due
  alert of the group (count + top items), so a burst of 5,000 is one message, not 5,000.
* Retries: transient failures back off exponentially with full jitter between ``backoff_base``
  and ``min(backoff_cap, base * 2**failures)``; a ``Retry-After`` wins (next attempt between
  Retry-After and Retry-After + base). Permanent failures are dead-lettered after one attempt;
  refused credentials also mark the channel broken, which is then probed at most every
  :data:`BROKEN_PROBE` (<= 3 attempts an hour). Every attempt is a row in ``alert_attempts``.
* Nothing here sleeps: waits are ``not_before`` times checked on later ticks, so tests drive
  the clock instead of waiting.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from kuulo.alert_model import AlertIntent, AlertKind, AlertMessage
from kuulo.clock import to_iso
from kuulo.errors import AlertError
from kuulo.messages import build_message
from kuulo.protocols import AlertChannel
from kuulo.settings_alerts import AlertSettings
from kuulo.store.outbox import AttemptResult, Claim, OutboxStore

log = logging.getLogger("kuulo.delivery")

LEASE = timedelta(minutes=5)
BROKEN_PROBE = timedelta(minutes=20)
MAX_GROUPS_PER_RUN = 100
RUN_BUDGET_S = 60.0


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter, floored at ``base`` (F1: >= 5 s apart)."""

    base: timedelta
    cap: timedelta
    rng: random.Random

    def delay(self, failures: int, retry_after: float | None = None) -> timedelta:
        base = self.base.total_seconds()
        if retry_after is not None:
            return timedelta(seconds=retry_after + self.rng.uniform(0, base))
        ceiling = min(self.cap.total_seconds(), base * 2 ** min(failures, 30))
        return timedelta(seconds=self.rng.uniform(base, max(base, ceiling)))


@dataclass
class DeliveryReport:
    messages: int = 0  # messages delivered
    alerts: int = 0  # alerts those messages carried
    failures: int = 0  # failed attempts
    dead: int = 0  # alerts dead-lettered (failed permanently or expired)


class Deliverer:
    """Runs the deliver stage against a store; channels are plug-in instances by name."""

    def __init__(
        self,
        channels: Mapping[str, AlertChannel],
        settings: AlertSettings,
        *,
        timezone: str,
        digest_rules: frozenset[str] = frozenset(),
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.channels = channels
        self.settings = settings
        self.timezone = timezone
        self.digest_rules = digest_rules
        self.clock = clock
        jitter = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.backoff = Backoff(settings.backoff_base, settings.backoff_cap, jitter)

    def run(self, store: OutboxStore, lookahead: timedelta = timedelta(0)) -> DeliveryReport:
        """Send every group that is due now (bounded per call); never raises for a channel.

        ``lookahead``: also send alerts due that much later. ``kuulo run --once`` passes
        ``group_wait``: under cron there is no tick 30 s later, and one run's alerts are
        already one batch. A target (channel URL) that fails is not tried again in the same
        run, and a run stops after :data:`RUN_BUDGET_S` of real time, so a hanging mail server
        cannot hold the tick (which also starts the collectors) for long.
        """
        report = DeliveryReport()
        self._expire(store, report)
        started, failed = time.monotonic(), list[str]()
        channels = list(self.channels)
        for _ in range(MAX_GROUPS_PER_RUN):
            now = self.clock()
            token = uuid.uuid4().hex
            claim = store.claim_group(now, LEASE, token, channels, now + lookahead, failed)
            if claim is None:
                break
            if not self._flush(store, claim, report):
                failed.append(f"{claim.channel}/{claim.target}")
            if time.monotonic() - started > RUN_BUDGET_S:
                break
        return report

    def _expire(self, store: OutboxStore, report: DeliveryReport) -> None:
        """Dead-letter what outlived the retention horizon, and say so on the operator channel."""
        now = self.clock()
        expired = store.expire_alerts(now, self.settings.retention)
        report.dead += expired
        operator = self.settings.operator_channel
        if not expired or operator not in self.channels or operator is None:
            return
        log.error("%d alert(s) were not delivered within the retention horizon", expired)
        payload = {
            "title": f"kuulo: {expired} alert(s) expired undelivered",
            "summary": "They were dead-lettered after failing for longer than [alerts] retention."
            " See `kuulo alerts status`; `kuulo alerts resend --all-dead` sends them again.",
        }
        intents = operator_intents(f"expired:{to_iso(now)}", operator, self.channels, payload, now)
        store.enqueue_alerts(intents, now)

    def _flush(self, store: OutboxStore, claim: Claim, report: DeliveryReport) -> bool:
        """Send one claimed group; True when it was delivered."""
        message = build_message(
            store, claim, top=self.settings.top_items, timezone=self.timezone,
            digest=claim.rule in self.digest_rules, now=self.clock(),
        )  # fmt: skip
        channel = self.channels[claim.channel]
        try:
            channel.send(message, claim.target)
            result = AttemptResult(
                "sent", message.key, next_flush_at=self.clock() + self.settings.group_interval
            )
        except AlertError as exc:
            result = self._failed(claim, message, exc)
        except Exception as exc:  # a plug-in bug must not stop delivery: retry like a failure
            log.exception("alert %s: channel %s crashed", message.key, claim.channel)
            result = self._failed(claim, message, AlertError(f"{type(exc).__name__} in plug-in"))
        store.finish_claim(claim, result, self.clock())
        self._account(store, claim, message, result, report)
        return result.outcome == "sent"

    def _failed(self, claim: Claim, message: AlertMessage, exc: AlertError) -> AttemptResult:
        now = self.clock()
        if exc.broken:
            return AttemptResult(
                "broken", message.key, exc.message, channel_paused_until=now + BROKEN_PROBE
            )
        if exc.permanent:
            return AttemptResult("permanent", message.key, exc.message)
        retry = now + self.backoff.delay(claim.failures, exc.retry_after)
        return AttemptResult(
            "ambiguous" if exc.ambiguous else "transient", message.key, exc.message,
            next_flush_at=retry, channel_paused_until=retry if exc.retry_after else None,
        )  # fmt: skip

    def _account(
        self,
        store: OutboxStore,
        claim: Claim,
        message: AlertMessage,
        result: AttemptResult,
        report: DeliveryReport,
    ) -> None:
        where = self.channels[claim.channel].describe(claim.target)
        if result.outcome == "sent":
            report.messages += 1
            report.alerts += claim.count
            log.info("alert %s: sent %d alert(s) to %s", message.key, claim.count, where)
            return
        report.failures += 1
        if result.outcome in ("permanent", "broken"):
            report.dead += claim.count
            log.error("alert %s: dead-lettered on %s: %s", message.key, where, result.error)
            self._tell_operator(store, claim, result)
        else:
            log.warning(
                "alert %s: %s failure on %s: %s; next attempt at %s",
                message.key, result.outcome, where, result.error,
                result.next_flush_at and to_iso(result.next_flush_at),
            )  # fmt: skip

    def _tell_operator(self, store: OutboxStore, claim: Claim, result: AttemptResult) -> None:
        """Rejected alerts are reported on the operator channel (never on the failing one).

        A broken channel is reported once per episode by the health check instead
        (``kuulo/watch.py``), not once per probe.
        """
        operator = self.settings.operator_channel
        if result.outcome != "permanent" or operator in (None, claim.channel):
            return
        if operator not in self.channels:
            return
        payload = {
            "title": f"kuulo: channel {claim.channel} rejected {claim.count} alert(s)",
            "summary": f"{claim.count} alert(s) of rule {claim.rule} were dead-lettered. "
            "See `kuulo alerts status`; `kuulo alerts resend --all-dead` sends them again.",
            "Error": result.error or "",
        }
        key = f"dead:{claim.channel}:{claim.first_id}"
        now = self.clock()
        store.enqueue_alerts(operator_intents(key, operator, self.channels, payload, now), now)


def operator_intents(
    key: str,
    operator: str,
    channels: Mapping[str, AlertChannel],
    payload: dict[str, str],
    now: datetime,
    kind: AlertKind = "health",
) -> list[AlertIntent]:
    """One intent per target of the operator channel (health, spike and dead-letter notes)."""
    return [
        AlertIntent(
            alert_key=key,
            rule=f"kuulo-{kind}",
            channel=operator,
            target=target,
            due_at=now,
            kind=kind,
            payload=payload,
        )
        for target in range(channels[operator].targets)
    ]
