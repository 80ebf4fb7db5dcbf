"""The tick refits brand thresholds on its own once a brand has enough corrections."""

from __future__ import annotations

from pathlib import Path

from kuulo.scheduler import Ticker
from kuulo.store import open_store
from tests.kuulo.test_calibration import NOW, FakeScorer, synthetic
from tests.kuulo.test_calibration_languages import fill
from tests.support import fixed_runtime, write_config

BRANDS = """
[[brands]]
name = "Acme"
query = "acme"
"""


def ticker_at(tmp_path: Path, auto: bool) -> Ticker:
    sentiment = (
        f"[sentiment]\ncalibration_min_corrections = 200\nauto_calibrate = {str(auto).lower()}\n"
    )
    rt = fixed_runtime(write_config(tmp_path, sentiment + BRANDS), NOW)
    return Ticker(rt, rt.settings.database_path(), scorer=FakeScorer())


def test_a_tick_refits_a_brand_that_reached_its_corrections(tmp_path: Path) -> None:
    ticker = ticker_at(tmp_path, auto=True)
    try:
        with open_store(tmp_path / "kuulo.db") as store:
            fill(store, synthetic(200, 7), "en", 0)  # type: ignore[arg-type]
            assert store.brand_thresholds() == {}
        ticker.tick()
        with open_store(tmp_path / "kuulo.db") as store:
            assert list(store.brand_thresholds()) == [("Acme", "en")]
    finally:
        ticker.shutdown()


def test_no_refit_when_auto_calibrate_is_off(tmp_path: Path) -> None:
    ticker = ticker_at(tmp_path, auto=False)
    try:
        with open_store(tmp_path / "kuulo.db") as store:
            fill(store, synthetic(200, 7), "en", 0)  # type: ignore[arg-type]
        ticker.tick()
        with open_store(tmp_path / "kuulo.db") as store:
            assert store.brand_thresholds() == {}
    finally:
        ticker.shutdown()
