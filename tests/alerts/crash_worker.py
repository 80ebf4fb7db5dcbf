"""Run by ``test_crash.py`` as a subprocess: store and score a mention (queueing its alert in
the same transaction), then SIGKILL itself at the named point, like a power cut or OOM kill.

Usage: python -m tests.alerts.crash_worker CONFIG POINT NOW_ISO SMTP_URL
Points: after-store (alert queued, never claimed), before-send (claimed, nothing sent),
after-send (the server accepted the message, the outbox still says "sending").
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from kuulo.alerting import Alerting
from kuulo.clock import from_iso
from kuulo.pipeline import score_pending
from kuulo.settings import load_settings
from kuulo.store import SqliteStore, open_store
from tests.alerts.helpers import FakeScorer, mention, store_mentions


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(config: str, point: str, now: str, smtp_url: str) -> None:
    settings = load_settings(config, environ={"MAIL": smtp_url})
    clock = lambda: from_iso(now)  # noqa: E731
    store = open_store(settings.database_path())
    assert isinstance(store, SqliteStore)
    alerting = Alerting.from_settings(settings, clock=clock)
    store_mentions(store, [mention("1", "Acme is awful")], clock())
    score_pending(store, FakeScorer(), 500, clock, planner=alerting.plan)
    if point == "after-store":
        die()
    channel: Any = alerting.channels["mail"]
    real = channel.send

    def send(message: Any, target: int) -> None:
        if point == "before-send":
            die()
        real(message, target)
        die()  # after-send: delivered, not yet marked sent

    channel.send = send
    alerting.tick(store, once=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
