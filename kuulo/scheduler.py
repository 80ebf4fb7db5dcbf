"""APScheduler 3 wiring: one short interval "tick" that starts due sources and scores.

Schedule state (next due, cursor, pause) lives in the database, not in APScheduler. The tick
hands due sources to a bounded thread pool and returns at once, so one slow or failing source
never delays the others; a source already running is not started again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from kuulo.alerting import Alerting
from kuulo.calibration import refit_due
from kuulo.catalog import config_only, merged_settings
from kuulo.delivery import DeliveryReport
from kuulo.pipeline import Runtime, collect_source, score_pending, sync_sources
from kuulo.protocols import Scorer
from kuulo.store import Store, open_store

log = logging.getLogger("kuulo.scheduler")

SCORE_BATCHES_PER_TICK = 20


class Ticker:
    """Starts due sources (bounded, one run per source at a time) and scores new mentions.

    It runs the merged set (config file + brands, sources and rules created in the dashboard):
    every tick compares the store's catalog revision with the one it was built from and, when
    it changed, rebuilds its runtime and alerting plan and registers new sources, so dashboard
    edits apply without a restart. ``rt`` holds the config file's settings.
    """

    def __init__(
        self,
        rt: Runtime,
        db_path: Path,
        scorer: Scorer | None = None,
        alerting: Alerting | None = None,
    ) -> None:
        self.rt = rt
        self.db_path = db_path
        self.scorer = scorer or rt.scorer()
        self._base = config_only(rt.settings)
        self._fixed_alerting = alerting
        self._revision: int | None = None
        self.alerting: Alerting  # built by reload(), from the merged set
        self._pool = ThreadPoolExecutor(
            max_workers=rt.settings.kuulo.max_parallel_sources, thread_name_prefix="collect"
        )
        self._running: set[str] = set()
        self._lock = threading.Lock()
        with open_store(db_path) as store:
            self.reload(store)

    def reload(self, store: Store) -> bool:
        """Rebuild from the merged set if the catalog changed since the last build (or never
        was built); True when it did. A database item that no longer validates is logged and
        left out; the service keeps running with the rest."""
        revision = store.catalog_revision()
        if revision == self._revision:
            return False
        merged, problems = merged_settings(self._base, store)
        for problem in problems:
            log.warning("left out: %s", problem)
        changed = merged != self.rt.settings
        if changed:
            self.rt = Runtime.from_settings(merged, clock=self.rt.clock, jitter=self.rt.jitter)
        if changed or self._revision is None:
            self.alerting = self._fixed_alerting or Alerting.from_settings(
                merged, clock=self.rt.clock
            )
        sync_sources(store, self.rt)
        if self._revision is not None:
            log.info(
                "catalog changed: now %d brands, %d sources, %d rules",
                len(merged.brands), len(merged.sources), len(merged.rules),
            )  # fmt: skip
        self._revision = revision
        return True

    def tick(self) -> list[Future[None]]:
        """Pick up catalog changes; start every due source that is not already running; score
        what is waiting (queueing the alerts it triggers) and deliver the alerts that are due."""
        with open_store(self.db_path) as store:
            self._reload_safely(store)
            due = self._claim(store.due_sources(self.rt.clock()))
            futures = [self._pool.submit(self._collect, name) for name in due]
            self._refit_safely(store)  # before scoring: what a refit marks is rescored now
            batch = self.rt.settings.sentiment.batch_size
            plan = self.alerting.plan
            score_pending(store, self.scorer, batch, self.rt.clock, SCORE_BATCHES_PER_TICK, plan)
            self.alerting.tick(store)
        return futures

    def _refit_safely(self, store: Store) -> None:
        """Refit brand thresholds that crossed their correction count (``[sentiment]
        auto_calibrate``); a failure is logged and never stops collecting or scoring."""
        try:
            refit_due(store, self.rt.settings.sentiment, self.scorer, self.rt.clock())
        except Exception:
            log.exception("automatic calibration failed; thresholds left as they were")

    def run_once(self, names: list[str] | None = None, *, score: bool = True) -> None:
        """Collect the named sources (default: every due one), wait, score everything, then
        deliver the alerts that are due (so ``kuulo run --once`` under cron alerts too)."""
        with open_store(self.db_path) as store:
            self._reload_safely(store)
            if score:
                self._refit_safely(store)
            if names is None:
                names = store.due_sources(self.rt.clock())
        wait([self._pool.submit(self._collect, name) for name in self._claim(names)])
        if score:
            self.score_all()
            self.deliver(once=True)

    def deliver(self, *, once: bool = False) -> DeliveryReport:
        """Alert checks and delivery of what is due (``once``: without waiting group_wait)."""
        with open_store(self.db_path) as store:
            return self.alerting.tick(store, once=once)

    def score_all(self, progress: Callable[[int], None] | None = None) -> int:
        total = 0
        with open_store(self.db_path) as store:
            batch = self.rt.settings.sentiment.batch_size
            while done := score_pending(
                store, self.scorer, batch, self.rt.clock, 1, self.alerting.plan
            ):
                total += done
                if progress:
                    progress(done)
        return total

    def shutdown(self, wait_for_runs: bool = True) -> None:
        self._pool.shutdown(wait=wait_for_runs, cancel_futures=True)

    def _reload_safely(self, store: Store) -> None:
        try:
            self.reload(store)
        except Exception:  # a broken catalog must not stop collection: keep the last good set
            log.exception("reloading brands, sources and rules from the database failed")

    def _claim(self, names: list[str]) -> list[str]:
        claimed = []
        with self._lock:
            for name in names:
                source = self.rt.sources.get(name)
                if source is None or source.disabled_reason or name in self._running:
                    continue
                self._running.add(name)
                claimed.append(name)
        return claimed

    def _collect(self, name: str) -> None:
        rt = self.rt  # a reload may swap it meanwhile; this run uses one consistent runtime
        try:
            source = rt.sources.get(name)
            if source is None:
                return  # removed from the catalog since it was claimed
            with open_store(self.db_path) as store:
                collect_source(store, rt, source)
        except Exception:
            log.exception("collecting %s failed", name)
        finally:
            with self._lock:
                self._running.discard(name)


def build_scheduler(ticker: Ticker) -> BackgroundScheduler:
    """A scheduler thread with the tick job, first run at once; late ticks coalesce.

    A background scheduler leaves the main thread free to wait for a stop signal, so SIGTERM
    stops kuulo cleanly at any moment, even during the first tick.
    """
    seconds = ticker.rt.settings.kuulo.tick.total_seconds()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        ticker.tick,
        "interval",
        seconds=seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(int(seconds * 2), 1),
        jitter=max(seconds * 0.1, 0.5),
        next_run_time=datetime.now(UTC),
    )
    return scheduler
