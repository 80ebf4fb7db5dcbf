"""Alert delivery benchmark: stored -> delivered latency, and grouped messages per second.

Both run the real stages (outbox in SQLite, rules, deliverer, the apprise channel) against an
aiosmtpd server on loopback:

* ``latency_p50_s`` / ``latency_p99_s``: single negative mentions, each stored at a random
  moment between two ticks of the default schedule (``[kuulo] tick`` 10 s, ``group_wait``
  30 s). Waiting is simulated (the clock is advanced tick by tick, nothing sleeps); the real
  time spent scoring, claiming, rendering and sending is added on top. Expect about
  group_wait + one to two ticks: the grouping wait dominates by design.
* ``grouped_messages_per_s``: a burst of 5,000 negatives across 50 rules (groups) is flushed
  in one deliver run; messages delivered per second of that run (claim + render + SMTP).

``make bench`` calls :func:`main`; aiosmtpd comes with the ``test`` extra.
"""

from __future__ import annotations

import json
import random
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from kuulo.alerting import Alerting
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Mention, Score, ScoreInput
from kuulo.normalise import prepare
from kuulo.pipeline import score_pending
from kuulo.settings import Settings, load_settings
from kuulo.store import SqliteStore

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATENCY_SAMPLES = 30
BURST = 5000
BURST_GROUPS = 50


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class _AllNegative:
    """The bench measures alerting, not scoring: every text is negative."""

    name: ClassVar[str] = "bench"
    version: ClassVar[str] = "1"

    def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        return [Score("negative", -0.9, "bench", "1") for _ in items]


class _Sink:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


@contextmanager
def _smtp() -> Iterator[tuple[_Sink, int]]:
    from aiosmtpd.controller import Controller  # test extra: only the bench needs it

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _settings(folder: Path, port: int, rules: int) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "kuulo.toml"
    rule_tables = "".join(
        f'[[rules]]\nname = "topic{n}"\nchannels = ["owner"]\nmatch = "topic{n}"\n\n'
        for n in range(rules)
    )
    config.write_text(
        f'[kuulo]\ndatabase = "{(folder / "bench.db").as_posix()}"\n\n'
        '[[brands]]\nname = "Acme"\nquery = "Acme"\n\n'
        '[[sources]]\nname = "reviews"\nkind = "rss"\nurl = "https://reviews.example/feed"\n\n'
        '[[channels]]\nname = "owner"\nurls = [{ "$env" = "OWNER" }]\n\n' + rule_tables,
        encoding="utf-8",
    )
    url = f"mailto://127.0.0.1:{port}?from=kuulo@example.com&to=owner@example.com&mode=insecure"
    return load_settings(config, environ={"OWNER": url})


@contextmanager
def _open(settings: Settings) -> Iterator[SqliteStore]:
    with SqliteStore(settings.database_path()) as store:
        store.migrate()
        yield store


def _store_mentions(store: SqliteStore, texts: Sequence[tuple[str, str]], now: datetime) -> None:
    brands = [Brand("Acme", BrandQuery("Acme"))]
    items = [
        prepare(
            Mention(
                source="rss",
                source_name="reviews",
                native_id=native_id,
                text=text,
                url=f"https://reviews.example/{native_id}",
                published_at=now,
                language="en",
            ),
            brands,
        )
        for native_id, text in texts
    ]
    for start in range(0, len(items), 500):
        store.save_batch("reviews", items[start : start + 500], None, now)


def _latencies(folder: Path, port: int, sink: _Sink) -> list[float]:
    settings = _settings(folder, port, rules=1)
    clock, tick = _Clock(), settings.kuulo.tick
    alerting = Alerting.from_settings(settings, clock=clock)
    rng = random.Random(42)  # noqa: S311 - reproducible phases, not security
    found = []
    with _open(settings) as store:
        for n in range(LATENCY_SAMPLES):
            clock.now += settings.alerts.group_interval + timedelta(minutes=1)
            stored = clock.now - timedelta(seconds=rng.uniform(0, tick.total_seconds()))
            _store_mentions(store, [(f"l{n}", "Acme topic0 awful")], stored)
            found.append(_until_delivered(store, alerting, clock, tick, sink, stored))
    return found


def _until_delivered(
    store: SqliteStore, alerting: Alerting, clock: _Clock, tick: timedelta, sink: _Sink,
    stored: datetime,
) -> float:  # fmt: skip
    before, spent = sink.received, 0.0
    for _ in range(100):
        started = time.perf_counter()
        score_pending(store, _AllNegative(), 500, clock, planner=alerting.plan)
        alerting.tick(store)
        spent = time.perf_counter() - started
        if sink.received > before:
            return (clock.now - stored).total_seconds() + spent
        clock.now += tick
    raise RuntimeError("an alert was not delivered within 100 ticks")


def _burst(folder: Path, port: int, sink: _Sink) -> float:
    settings = _settings(folder, port, rules=BURST_GROUPS)
    clock = _Clock()
    alerting = Alerting.from_settings(settings, clock=clock)
    with _open(settings) as store:
        texts = [(f"b{i}", f"Acme topic{i % BURST_GROUPS} awful") for i in range(BURST)]
        _store_mentions(store, texts, clock())
        score_pending(store, _AllNegative(), 500, clock, planner=alerting.plan)
        clock.now += settings.alerts.group_wait
        before = sink.received
        started = time.perf_counter()
        report = alerting.tick(store)
        elapsed = time.perf_counter() - started
    if report.messages != BURST_GROUPS or sink.received - before != BURST_GROUPS:
        raise RuntimeError(f"expected {BURST_GROUPS} grouped messages, got {report.messages}")
    return BURST_GROUPS / elapsed


def measure_alerts() -> dict[str, float]:
    """Run both measurements; returns the three figures (seconds, messages per second)."""
    with _smtp() as (sink, port), tempfile.TemporaryDirectory() as tmp:
        latencies = _latencies(Path(tmp) / "latency", port, sink)
        rate = _burst(Path(tmp) / "burst", port, sink)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p99_s": round(cuts[98], 3),
        "grouped_messages_per_s": round(rate, 1),
    }


def main() -> None:
    """Alone (``python -m kuulo.bench_alerts``); ``make bench`` runs it via kuulo.bench."""
    print(json.dumps(measure_alerts(), indent=2))  # noqa: T201 - the bench's report


if __name__ == "__main__":
    main()
