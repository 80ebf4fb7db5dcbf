"""Per-language brand thresholds (migration m009) and the automatic refit from the tick.

The fake scorer of ``test_calibration`` reads its P(negative) from the text ("p=0.230 ...").
English here under-flags (human negatives sit below the default cut, as the models do out of
the box); Finnish over-flags (everything sits high): one brand, two languages, two thresholds
that must move in opposite directions.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from kuulo.calibration import calibrate, refit_due
from kuulo.model import Mention
from kuulo.normalise import Prepared, content_hash
from kuulo.pipeline import score_pending
from kuulo.settings import SentimentSettings
from kuulo.store import SqliteStore, open_store
from kuulo.store.migrations import migrations
from tests.kuulo.test_calibration import DEFAULT_CUT, NOW, FakeScorer, synthetic

SECRET_WORD = "zanzibarquux"  # in every text: it must never reach a log line


def over_flagged(n: int, seed: int) -> list[tuple[float, bool]]:
    """Finnish: negatives score high, but so do many non-negatives (the cut should rise)."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    rows = []
    for _ in range(n):
        negative = rnd.random() < 0.3
        p = rnd.uniform(0.65, 1.0) if negative else rnd.uniform(0.3, 0.78)
        rows.append((round(p, 3), negative))
    return rows


def item(i: int, p: float, language: str | None, brand: str = "Acme") -> Prepared:
    text = f"p={p:.3f} {SECRET_WORD} mention {i}"
    m = Mention("rss", "news", str(i), f"https://news.example/{i}", text,
                published_at=NOW - timedelta(minutes=i % 1000))  # fmt: skip
    return Prepared(m, None, text, language, content_hash(None, text, m.url), (brand,))


def fill(
    store: SqliteStore, rows: list[tuple[float, bool]], language: str | None, start: int
) -> None:
    store.sync_sources([("news", "rss")], NOW)
    items = [item(start + i, p, language) for i, (p, _) in enumerate(rows)]
    store.save_batch("news", items, None, NOW)
    score_pending(store, FakeScorer(), 500, lambda: NOW)
    for i, (_, negative) in enumerate(rows):
        label = "negative" if negative else "neutral"
        store.correct_sentiment([f"news:{start + i}"], label, "kim", NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        yield opened


def test_each_language_gets_its_own_threshold_moved_its_own_way(store: SqliteStore) -> None:
    fill(store, synthetic(260, 11), "en", 0)
    fill(store, over_flagged(240, 12), "fi", 1000)
    fill(store, over_flagged(30, 13), "sv", 2000)  # too few: left to the scorer's own cut
    reports = calibrate(store, FakeScorer(), min_corrections=200, recall_target=None, now=NOW)
    by_language = {r.language: r for r in reports}
    assert set(by_language) == {"en", "fi", "sv"}
    en, fi, sv = by_language["en"], by_language["fi"], by_language["sv"]
    assert en.stored
    assert fi.stored
    assert en.fitted is not None
    assert fi.fitted is not None
    assert en.fitted < DEFAULT_CUT < fi.fitted
    for report in (en, fi):
        assert report.before is not None
        assert report.after is not None
        assert report.after.f1 > report.before.f1
    assert en.reset == 260  # only the English mentions are re-scored for the English fit
    assert fi.reset == 240
    assert not sv.stored
    assert "30 corrected mentions, needs 200" in sv.message
    assert store.brand_thresholds() == {("Acme", "en"): en.fitted, ("Acme", "fi"): fi.fitted}

    cuts = store.pending_thresholds(["news:0", "news:1000", "news:2000"])
    assert cuts == {"news:0": en.fitted, "news:1000": fi.fitted}
    score_pending(store, FakeScorer(), 1000, lambda: NOW)
    # a Finnish non-negative at 0.6 was flagged by the default cut; with fi's cut it is not
    flips = next(
        i for i, (p, neg) in enumerate(over_flagged(240, 12)) if not neg and 0.55 < p < fi.fitted
    )
    row = store.db.execute("SELECT sentiment FROM mentions WHERE id = ?", [f"news:{1000 + flips}"])
    assert row.fetchone()[0] == "neutral"


def test_a_language_filter_fits_only_that_language(store: SqliteStore) -> None:
    fill(store, synthetic(220, 14), "en", 0)
    fill(store, over_flagged(220, 15), "fi", 1000)
    [report] = calibrate(store, FakeScorer(), min_corrections=200, recall_target=None,
                         now=NOW, brand="Acme", language="FI")  # fmt: skip
    assert report.language == "fi"
    assert set(store.brand_thresholds()) == {("Acme", "fi")}
    assert store.forget_brand_threshold("Acme", "en") is None
    assert store.forget_brand_threshold("Acme", "fi") == 0  # none scored since the fit
    assert store.brand_thresholds() == {}


# -- migration m009 -------------------------------------------------------------------------


def test_migration_keeps_existing_thresholds_as_any_language(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m009_calibration_per_language")
    db.execute(
        "INSERT INTO brand_calibration (brand, negative_threshold, corrections, recall_target,"
        " details, fitted_at) VALUES ('Acme', 0.31, 250, NULL, '{\"negatives\": 80}',"
        " '2026-11-01T00:00:00Z')"
    )
    db.conn.commit()
    db.conn.close()
    with open_store(path) as opened:
        assert isinstance(opened, SqliteStore)
        assert opened.brand_thresholds() == {("Acme", "*"): 0.31}
        [row] = opened.brand_calibrations()
        assert row["corrections"] == 250
        assert row["details"] == {"negatives": 80}
        assert row["fitted_at"] == "2026-11-01T00:00:00Z"
        opened.sync_sources([("news", "rss")], NOW)
        opened.save_batch("news", [item(1, 0.4, "fi"), item(2, 0.4, None)], None, NOW)
        # the any-language row still cuts every language, until a language gets its own
        assert opened.pending_thresholds(["news:1", "news:2"]) == {"news:1": 0.31, "news:2": 0.31}
        opened.save_brand_threshold("Acme", "fi", 0.7, 200, None, {}, NOW)
        assert opened.pending_thresholds(["news:1", "news:2"]) == {"news:1": 0.7, "news:2": 0.31}


# -- automatic refit ------------------------------------------------------------------------


def auto(minimum: int = 200, every: int = 50, enabled: bool = True) -> SentimentSettings:
    return SentimentSettings(calibration_min_corrections=minimum,
                             calibration_refit_every=every, auto_calibrate=enabled)  # fmt: skip


def test_auto_refit_fires_at_the_threshold_then_once_per_step(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    rows = synthetic(320, 16)
    fill(store, rows[:199], "en", 0)
    assert refit_due(store, auto(), FakeScorer(), NOW) == []
    fill(store, rows[199:200], "en", 199)
    with caplog.at_level(logging.INFO, logger="kuulo.calibration"):
        [first] = refit_due(store, auto(), FakeScorer(), NOW)
    assert first.stored
    assert first.corrections == 200
    assert first.fitted is not None
    assert store.brand_thresholds() == {("Acme", "en"): first.fitted}
    [line] = [r.getMessage() for r in caplog.records if r.name == "kuulo.calibration"]
    assert "brand 'Acme' language en: 200 corrected mentions" in line
    assert "before P " in line
    assert "after (5-fold) P " in line
    assert SECRET_WORD not in caplog.text
    assert "p=0." not in caplog.text

    assert refit_due(store, auto(), FakeScorer(), NOW) == []  # nothing new
    scan = store.calibration_scan()
    assert scan is not None
    assert scan[0] == store.correction_watermark()[1]  # a tick with nothing new: one max(id)
    assert ("", "*") not in store.calibration_checks()
    assert refit_due(store, auto(enabled=False), FakeScorer(), NOW) == []
    fill(store, rows[200:249], "en", 200)
    assert refit_due(store, auto(), FakeScorer(), NOW) == []  # 49 new: not yet
    fill(store, rows[249:250], "en", 249)
    [second] = refit_due(store, auto(), FakeScorer(), NOW)
    assert second.corrections == 250
    assert second.current == first.fitted
    assert refit_due(store, auto(), FakeScorer(), NOW) == []
    # a human's --forget is not undone by the next correction, only by the next step
    assert store.forget_brand_threshold("Acme") is not None
    fill(store, rows[250:251], "en", 250)
    assert refit_due(store, auto(), FakeScorer(), NOW) == []
    assert store.brand_thresholds() == {}


def test_auto_refit_never_installs_a_worse_threshold_nor_retries_it(
    store: SqliteStore,
) -> None:
    rnd = random.Random(17)  # noqa: S311 - reproducible synthetic data
    rows = [(round(p, 3), p >= DEFAULT_CUT) for p in (rnd.random() for _ in range(210))]
    fill(store, rows, "en", 0)  # the scorer's own cut is already right
    [report] = refit_due(store, auto(), FakeScorer(), NOW)
    assert report.message.startswith("kept the current threshold")
    assert not report.stored
    assert store.brand_thresholds() == {}
    assert store.count_pending() == 0
    assert refit_due(store, auto(), FakeScorer(), NOW) == []  # remembered: not every tick
    check = store.calibration_checks()[("Acme", "en")]
    assert (check.corrections, check.outcome) == (210, "kept")
    # other settings rescan (nothing new is due here: the pair was fitted on 210 already)
    assert refit_due(store, auto(every=10), FakeScorer(), NOW) == []
    assert refit_due(store, auto(minimum=300), FakeScorer(), NOW) == []


def test_a_new_scorer_version_makes_every_pair_due(store: SqliteStore) -> None:
    fill(store, synthetic(220, 18), "en", 0)
    assert len(refit_due(store, auto(), FakeScorer(), NOW)) == 1

    class Retrained(FakeScorer):
        version = "2"

    [again] = refit_due(store, auto(), Retrained(), NOW)
    assert again.corrections == 220
    assert store.calibration_checks()[("Acme", "en")].scorer_version == "2"
    details = store.brand_calibrations()[0]["details"]
    assert details["scorer_version"] in {"1", "2"}
    assert json.dumps(details)  # stored as JSON
