"""The pipeline: collect -> normalise -> match -> dedupe -> store, then score.

Each stage reads its input from the store and writes its output back, so each can be re-run and
a crash loses nothing: a batch and the cursor that covers it commit together, and scoring works
off "mentions without a score".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kuulo import registry
from kuulo.alert_model import AlertIntent
from kuulo.catalog import item_origin
from kuulo.clock import utcnow
from kuulo.errors import CollectorError, RateLimited, StoreError
from kuulo.http import make_session
from kuulo.matching import Brand
from kuulo.model import Batch, Score, ScoreInput
from kuulo.normalise import Prepared, prepare
from kuulo.protocols import Collector, CollectorContext, Scorer
from kuulo.settings import SentimentSettings, Settings, Source
from kuulo.store import PendingScore, RunOutcome, Store

log = logging.getLogger("kuulo.pipeline")

MAX_BACKOFF = timedelta(hours=6)
NO_BRAND = "matched no brand query"


@dataclass
class Runtime:
    """What every stage needs, built once from the settings."""

    settings: Settings
    brands: list[Brand]
    sources: dict[str, Source]
    clock: Callable[[], datetime] = utcnow
    jitter: Callable[[timedelta], timedelta] = field(default=lambda every: _jitter(every))

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Runtime:
        sources = {s.name: s for s in settings.resolved_sources()}
        return cls(settings, settings.brand_objects(), sources, **kwargs)

    def brands_for(self, source: Source) -> list[Brand]:
        wanted = source.settings.brands
        return [b for b in self.brands if wanted is None or b.name in wanted]

    def scorer(self) -> Scorer:
        return make_scorer(self.settings.sentiment)


def make_scorer(sentiment: SentimentSettings) -> Scorer:
    """The configured scorer plug-in, constructed with the ``[sentiment]`` settings."""
    cls = registry.load(registry.SCORERS, sentiment.scorer)
    scorer: Scorer = cls(sentiment)
    return scorer


def _jitter(every: timedelta) -> timedelta:
    """Up to 10% of the interval (at most a minute), so sources drift apart, not in lockstep."""
    return timedelta(seconds=random.uniform(0, min(every.total_seconds() * 0.1, 60)))  # noqa: S311


def sync_sources(store: Store, rt: Runtime) -> None:
    """Register configured sources in the store (their schedule state lives there)."""
    store.sync_sources([(s.name, s.kind) for s in rt.sources.values()], rt.clock())


def collect_source(store: Store, rt: Runtime, source: Source) -> RunOutcome:
    """Run one source once and record the run. Never raises for a source's failure."""
    started = rt.clock()
    state = store.source_state(source.name)
    run_id = store.start_run(source.name, started)
    outcome = RunOutcome()
    retry_after: float | None = None
    try:
        collector = build_collector(rt, source)
        answers: set[bool] = set()
        for batch in collector.collect(state.cursor if state else None):
            answers.add(batch.not_modified)
            _store_batch(store, rt, source, batch, outcome)
        if answers == {True}:  # "not_modified" only when no page of this run had content
            outcome.status = "not_modified"
    except RateLimited as exc:  # a planned pause (rate limit, budget), not a failure
        outcome.status, outcome.error, retry_after = "paused", exc.message, exc.retry_after
        log.warning("source %s paused: %s", source.name, exc.message)
    except CollectorError as exc:
        outcome.status, outcome.error, retry_after = "error", exc.message, exc.retry_after
        log.warning("source %s failed: %s", source.name, exc.message)
    except StoreError as exc:  # e.g. a full disk: the batch and its cursor were not stored
        outcome.status, outcome.error = "error", str(exc)
        log.error("source %s: %s", source.name, exc)
    except Exception as exc:  # a bug in a plug-in must not stop the other sources
        outcome.status, outcome.error = "error", f"{type(exc).__name__}: {exc}"
        log.exception("source %s crashed", source.name)
    # a success ends the backoff: the next poll is `every` away again
    failures = state.failures if state else 0
    failures = {"error": failures + 1, "paused": failures}.get(outcome.status, 0)
    now = rt.clock()
    next_due = now + _next_interval(rt, source, failures, retry_after)
    paused = now + timedelta(seconds=retry_after) if retry_after else None
    store.finish_run(run_id, source.name, outcome, now=now, next_due=next_due, paused_until=paused)
    log.info(
        "source %s: %s, fetched %d, new %d, updated %d, skipped %d",
        source.name, outcome.status, outcome.fetched, outcome.new, outcome.updated,
        len(outcome.skip_reasons),
    )  # fmt: skip
    return outcome


def build_collector(rt: Runtime, source: Source) -> Collector:
    """The source's collector, wired to the shared HTTP settings, clock and logger."""
    cls = registry.load(registry.COLLECTORS, source.kind)
    http = rt.settings.http
    guard = needs_ssrf_guard(rt.settings, source.name)
    ctx = CollectorContext(
        source_name=source.name,
        brands=rt.brands_for(source),
        http=http,
        session_factory=lambda: make_session(http, guard=guard),
        now=rt.clock,
        logger=logging.getLogger(f"kuulo.collectors.{source.name}"),
    )
    collector: Collector = cls(source.config, ctx)
    return collector


def needs_ssrf_guard(settings: Settings, source_name: str) -> bool:
    """Sources created in the dashboard may only reach public addresses (checked on every
    connection and redirect) unless ``[dashboard] allow_private_feed_hosts``; config-file
    sources are trusted like the file itself (the demo serves its feeds on 127.0.0.1)."""
    dashboard = item_origin(settings, "source", source_name) == "dashboard"
    return dashboard and not settings.dashboard.allow_private_feed_hosts


def _store_batch(store: Store, rt: Runtime, source: Source, batch: Batch, out: RunOutcome) -> None:
    if batch.not_modified:
        return
    kept, dropped = prepare_batch(batch, rt.brands_for(source), source.settings)
    out.fetched += len(batch.mentions)
    out.skip_reasons += [s.reason for s in batch.skipped] + [NO_BRAND] * dropped
    out.add(store.save_batch(source.name, kept, batch.cursor, rt.clock()))


def prepare_batch(batch: Batch, brands: Sequence[Brand], source: Any) -> tuple[list[Prepared], int]:
    """Normalise and match a page; mentions that match no brand are not stored."""
    owned = tuple(b.name for b in brands) if source.owned else ()
    prepared = [prepare(m, brands, owned) for m in batch.mentions]
    kept = [p for p in prepared if p.brands]
    return kept, len(prepared) - len(kept)


def _next_interval(
    rt: Runtime, source: Source, failures: int, retry_after: float | None
) -> timedelta:
    every = source.settings.every
    if retry_after:
        return max(timedelta(seconds=retry_after), every)
    if failures:
        backoff: timedelta = every * 2 ** min(failures - 1, 8)
        return min(backoff, max(every, MAX_BACKOFF))
    return every + rt.jitter(every)


AlertPlanner = Callable[[Store, Sequence[tuple[PendingScore, Score]], datetime], list[AlertIntent]]
"""Decides which freshly scored mentions alert (``kuulo.alerting.Alerting.plan``)."""


def score_pending(
    store: Store,
    scorer: Scorer,
    batch_size: int,
    clock: Callable[[], datetime],
    max_batches: int | None = None,
    planner: AlertPlanner | None = None,
) -> int:
    """Score mentions that have no score yet; returns how many were scored.

    A mention of a calibrated brand (``kuulo sentiment calibrate``) is scored with that brand's
    negative threshold (the lowest, when several of its brands are calibrated).
    With a ``planner``, the alerts it decides on are queued in the outbox in the same
    transaction as the scores (transactional outbox: a crash keeps both or neither).
    """
    done = 0
    batches = 0
    while (max_batches is None or batches < max_batches) and (
        pending := store.pending_scores(batch_size)
    ):
        cuts = store.pending_thresholds([p.id for p in pending])  # calibrated brands only
        scores = scorer.score(
            [ScoreInput(p.text, p.language, p.rating, cuts.get(p.id)) for p in pending]
        )
        scored, now = list(zip(pending, scores, strict=True)), clock()
        alerts = planner(store, scored, now) if planner else []
        done += store.save_scores(scored, now, alerts)
        batches += 1
    return done
