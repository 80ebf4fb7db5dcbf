"""A process killed between storing and sending, then restarted: the alert still goes out,
once; killed after the server accepted it, at most one duplicate with the same key (F7)."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from kuulo.clock import to_iso
from kuulo.delivery import LEASE
from kuulo.settings import load_settings
from tests.alerts.helpers import NOW, Harness, channel_toml, rule_toml, write_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("point", "restart_after", "deliveries"),
    [
        ("after-store", timedelta(seconds=31), 1),
        ("before-send", LEASE + timedelta(seconds=10), 1),
        ("after-send", LEASE + timedelta(seconds=10), 2),  # RFC 1047: one duplicate allowed
    ],
)
def test_killed_then_restarted(tmp_path, smtp, point, restart_after, deliveries):
    config = write_config(tmp_path, channel_toml("mail", "MAIL") + rule_toml("neg", ["mail"]))
    child = subprocess.run(
        [sys.executable, "-m", "tests.alerts.crash_worker", str(config), point, to_iso(NOW),
         smtp.url()],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    h = Harness(load_settings(config, environ={"MAIL": smtp.url()}))
    assert [r["status"] for r in h.rows()] == ["pending" if point == "after-store" else "sending"]
    h.clock.advance(restart_after.total_seconds())
    h.tick()
    h.run(120)
    assert smtp.handler.keys() == {"neg:reviews:1": deliveries}
    assert {m["X-Kuulo-Alert-Key"] for m in smtp.handler.messages} == {"neg:reviews:1"}
    assert [r["status"] for r in h.rows()] == ["sent"]
    assert h.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    h.close()
