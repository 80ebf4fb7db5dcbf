"""What the CLI commands do, without click: run, collect, rescore, status, dashboard."""

from __future__ import annotations

import importlib.util
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from kuulo.catalog import merged_settings
from kuulo.clock import from_iso, utcnow
from kuulo.errors import KuuloError
from kuulo.pipeline import Runtime, make_scorer
from kuulo.scheduler import Ticker, build_scheduler
from kuulo.settings import Settings
from kuulo.settings_dashboard import streamlit_secrets_file
from kuulo.store import open_store

log = logging.getLogger("kuulo")

ProgressFactory = Callable[[str, int], Any]


class SilentProgress:
    """Stands in for click.progressbar where nobody is watching."""

    def __enter__(self) -> SilentProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def run_once(settings: Settings) -> None:
    """One full tick: collect every due source, wait for them, score everything pending."""
    ticker = Ticker(Runtime.from_settings(settings), settings.database_path())
    try:
        ticker.run_once()
    finally:
        ticker.shutdown()


def collect(
    settings: Settings, names: list[str] | None, *, score: bool, progress: ProgressFactory
) -> None:
    ticker = Ticker(Runtime.from_settings(settings), settings.database_path())
    try:
        ticker.run_once(names, score=False)
        if score:
            with progress("scoring", _pending(settings)) as bar:
                ticker.score_all(bar.update)
    finally:
        ticker.shutdown()


def rescore(settings: Settings, *, everything: bool, progress: ProgressFactory) -> int:
    scorer = make_scorer(settings.sentiment)
    with open_store(settings.database_path()) as store:
        store.reset_scores(scorer.name, scorer.version, everything=everything)
    ticker = Ticker(Runtime.from_settings(settings), settings.database_path(), scorer)
    try:
        with progress("re-scoring", _pending(settings)) as bar:
            return ticker.score_all(bar.update)
    finally:
        ticker.shutdown()


def _pending(settings: Settings) -> int:
    with open_store(settings.database_path()) as store:
        return store.count_pending()


def run_forever(
    settings: Settings, *, dashboard: bool = True, on_ready: Callable[[], None] | None = None
) -> None:
    """The service: scheduler in this process, dashboard beside it; stops on SIGTERM/Ctrl-C."""
    stop = threading.Event()
    with _stop_on_signals(stop):  # first: a signal during start-up is a clean stop too
        ticker = Ticker(Runtime.from_settings(settings), settings.database_path())
        scheduler = build_scheduler(ticker)
        _serve(settings, ticker, scheduler, stop, dashboard=dashboard, on_ready=on_ready)
    log.info("kuulo stopped")


def _serve(
    settings: Settings,
    ticker: Ticker,
    scheduler: BackgroundScheduler,
    stop: threading.Event,
    *,
    dashboard: bool,
    on_ready: Callable[[], None] | None,
) -> None:
    with _dashboard_process(settings, enabled=dashboard):
        scheduler.start()
        if on_ready:
            on_ready()
        log.info("kuulo running: tick every %s; Ctrl-C to stop", settings.kuulo.tick)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            scheduler.shutdown(wait=True)  # lets a running tick finish
            ticker.shutdown(wait_for_runs=True)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def dashboard_command(
    settings: Settings, port: int | None = None, secrets: Path | None = None
) -> list[str]:
    """The ``streamlit run`` command line for the dashboard of these settings.

    ``secrets``: the private ``secrets.toml`` holding ``[dashboard.oidc]`` for ``st.login``
    (:func:`kuulo.settings_dashboard.streamlit_secrets_file`); only its path is on the line.
    """
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise KuuloError("the dashboard package is not installed (run `make install`)")
    app = Path(spec.origin).parent / "app.py"
    core = settings.kuulo
    args = [sys.executable, "-m", "streamlit", "run", str(app)]
    args += ["--server.port", str(port or core.dashboard_port)]
    args += ["--server.address", core.dashboard_host, "--server.headless", "true"]
    args += ["--browser.gatherUsageStats", "false", "--global.developmentMode", "false"]
    args += ["--client.toolbarMode", "minimal"]
    if secrets is not None:
        missing = [m for m in ("authlib", "httpx") if importlib.util.find_spec(m) is None]
        if missing:
            raise KuuloError(
                f"[dashboard.oidc] needs {' and '.join(missing)} for Streamlit's st.login: "
                "pip install 'kuulo[oidc]'"
            )
        args += ["--secrets.files", str(secrets)]
    return [*args, "--", "--config", str(settings.config_path)]


def dashboard_url(settings: Settings, port: int | None = None) -> str:
    return f"http://{settings.kuulo.dashboard_host}:{port or settings.kuulo.dashboard_port}"


def serve_dashboard(settings: Settings, port: int | None = None) -> None:
    log.info("dashboard on %s", dashboard_url(settings, port))
    with streamlit_secrets_file(settings.dashboard.oidc) as secrets:
        subprocess.run(dashboard_command(settings, port, secrets), check=False)  # noqa: S603


@contextmanager
def _dashboard_process(settings: Settings, *, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with streamlit_secrets_file(settings.dashboard.oidc) as secrets:
        proc = subprocess.Popen(dashboard_command(settings, secrets=secrets))  # noqa: S603
        log.info("dashboard on %s", dashboard_url(settings))
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def status_lines(settings: Settings, now: datetime | None = None) -> list[str]:
    """Human-readable health per source, for ``kuulo status``."""
    now = now or utcnow()
    with open_store(settings.database_path()) as store:
        merged, _ = merged_settings(settings, store)  # `kuulo config check` reports problems
        rows = {r["name"]: r for r in store.source_status()}
    configured = {s.name: s for s in merged.resolved_sources()}
    lines = []
    for name, source in configured.items():
        row = rows.get(name)
        lines.append(_status_line(name, source.kind, source.disabled_reason, row, now))
    imported = [r for name, r in rows.items() if name not in configured and r["kind"] == "import"]
    lines += [_status_line(r["name"], "import", None, r, now) for r in imported]
    return lines or ["no sources configured"]


def _status_line(
    name: str, kind: str, disabled: str | None, row: dict[str, Any] | None, now: datetime
) -> str:
    head = f"{name} ({kind})"
    if disabled:
        return f"{head}: {disabled}"
    if row is None or row["last_run_at"] is None:
        return f"{head}: never run"
    parts = [f"last run {_ago(row['last_run_at'], now)} {row['last_status']}"]
    parts.append(f"fetched {row['fetched']}, new {row['new']}, updated {row['updated']}")
    parts.append(f"skipped {row['skipped']}, {row['mentions']} stored")
    if row["last_ok_at"]:
        parts.append(f"last success {_ago(row['last_ok_at'], now)}")
    if row["last_error"]:
        parts.append(f"last error: {row['last_error']}")
    if row["paused_until"] and from_iso(row["paused_until"]) > now:
        parts.append(f"paused until {row['paused_until']}")
    return f"{head}: " + "; ".join(parts)


def _ago(iso: str, now: datetime) -> str:
    seconds = int((now - from_iso(iso)).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"
