"""Per-brand calibration: the pure fit, the store, ``kuulo sentiment calibrate`` and
``export-labels``, and re-scoring with a brand's threshold.

A fake scorer reads its P(negative) from the text ("p=0.230 ..."), flags P >= 0.5 by default
(a scorer that under-flags complaints, as the models do out of the box) and honours
``ScoreInput.negative_threshold``, as the default scorer does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from kuulo import cli_sentiment
from kuulo.calibration import best_threshold, calibrate, figures, fit
from kuulo.cli import cli
from kuulo.model import Mention, Score, ScoreInput, SentimentLabel
from kuulo.normalise import Prepared, content_hash
from kuulo.pipeline import score_pending
from kuulo.store import SqliteStore, open_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_CUT = 0.5


class FakeScorer:
    name: ClassVar[str] = "fake"
    version: ClassVar[str] = "1"

    def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        out = []
        for item in items:
            p = float(item.text.split()[0].removeprefix("p="))
            cut = DEFAULT_CUT if item.negative_threshold is None else item.negative_threshold
            label: SentimentLabel = "negative" if p >= cut else "neutral"
            out.append(Score(label, -p, self.name, self.version, None, p, p_negative=p))
        return out


def synthetic(n: int, seed: int) -> list[tuple[float, bool]]:
    """Human negatives have moderately high P(negative), mostly below the default 0.5 cut."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    rows = []
    for _ in range(n):
        negative = rnd.random() < 0.35
        p = rnd.uniform(0.2, 0.7) if negative else rnd.uniform(0.0, 0.35)
        rows.append((round(p, 3), negative))
    return rows


# -- the pure fit -----------------------------------------------------------------------------


def test_fit_lowers_the_cut_and_helps_on_held_out_rows() -> None:
    train, test = synthetic(300, 1), synthetic(1000, 2)
    result = fit([p for p, _ in train], [g for _, g in train])
    assert 0.2 < result.threshold < DEFAULT_CUT
    gold = [g for _, g in test]
    before = figures(gold, [p >= DEFAULT_CUT for p, _ in test])
    after = figures(gold, [p >= result.threshold for p, _ in test])
    assert after.f1 > before.f1 + 0.1
    assert after.recall > before.recall
    assert result.held_out.f1 > before.f1
    assert result.after.f1 >= result.held_out.f1 - 0.05


def test_recall_target_picks_the_highest_cut_that_meets_it() -> None:
    rows = synthetic(300, 3)
    p, gold = [r[0] for r in rows], [r[1] for r in rows]
    loose, strict = best_threshold(p, gold, 0.6), best_threshold(p, gold, 0.95)
    assert strict < loose
    for target, cut in ((0.6, loose), (0.95, strict)):
        assert figures(gold, [x >= cut for x in p]).recall >= target


def test_fit_by_hand_sits_half_way_between_scores() -> None:
    assert best_threshold([0.9, 0.6, 0.4, 0.1], [True, True, False, False]) == 0.5
    with pytest.raises(ValueError, match="nothing to calibrate"):
        best_threshold([0.9, 0.1], [False, False])


# -- the store, the command and re-scoring ----------------------------------------------------


def item(i: int, p: float, brand: str = "Acme") -> Prepared:
    text = f"p={p:.3f} mention number {i}"
    m = Mention("rss", "news", str(i), f"https://news.example/{i}", text,
                published_at=NOW - timedelta(minutes=i))  # fmt: skip
    return Prepared(m, None, text, "en", content_hash(None, text, m.url), (brand,))


def fill(store: SqliteStore, rows: list[tuple[float, bool]], brand: str = "Acme") -> None:
    """Store, score (with the fake's default cut) and correct each row for ``brand``."""
    offset = 10_000 if brand != "Acme" else 0
    store.sync_sources([("news", "rss")], NOW)
    store.save_batch("news", [item(i + offset, p, brand) for i, (p, _) in enumerate(rows)],
                     None, NOW)  # fmt: skip
    score_pending(store, FakeScorer(), 500, lambda: NOW)
    for i, (_, negative) in enumerate(rows):
        label = "negative" if negative else "neutral"
        store.correct_sentiment([f"news:{i + offset}"], label, "kim", NOW)


def sentiment(store: SqliteStore, mention_id: str) -> str | None:
    row = store.db.execute("SELECT sentiment FROM mentions WHERE id = ?", [mention_id]).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        yield opened


def test_calibrate_stores_the_threshold_and_rescoring_applies_it(store: SqliteStore) -> None:
    rows = synthetic(300, 4)
    fill(store, rows)
    fill(store, [(0.3, True)] * 5, brand="Globex")  # too few: left alone
    flips = next(i for i, (p, negative) in enumerate(rows) if negative and 0.35 < p < DEFAULT_CUT)
    assert sentiment(store, f"news:{flips}") == "neutral"

    report, small = calibrate(
        store, FakeScorer(), min_corrections=200, recall_target=None, now=NOW
    )  # fmt: skip
    assert report.brand == "Acme"
    assert report.message == "fitted"
    assert report.stored
    assert report.fitted is not None
    assert report.fitted < DEFAULT_CUT
    assert report.before
    assert report.after
    assert report.after.f1 > report.before.f1
    assert report.reset == 300
    assert store.count_pending() == 300
    assert small.brand == "Globex"
    assert not small.stored
    assert small.fitted is None
    assert "5 corrected mentions, needs 200" in small.message
    assert store.brand_thresholds() == {("Acme", "en"): report.fitted}

    score_pending(store, FakeScorer(), 500, lambda: NOW)
    assert sentiment(store, f"news:{flips}") == "negative"
    # Globex keeps the scorer's own cut
    assert store.pending_thresholds(["news:10000", f"news:{flips}"]) == {
        f"news:{flips}": report.fitted
    }


def test_dry_run_and_too_few_store_nothing(store: SqliteStore) -> None:
    fill(store, synthetic(300, 5))
    [report] = calibrate(store, FakeScorer(), min_corrections=200, recall_target=None, now=NOW,
                         dry_run=True)  # fmt: skip
    assert report.fitted is not None
    assert not report.stored
    [report] = calibrate(store, FakeScorer(), min_corrections=301, recall_target=None, now=NOW)
    assert report.fitted is None
    assert "needs 301" in report.message
    assert store.brand_thresholds() == {}
    assert store.count_pending() == 0


def test_an_edited_mention_no_longer_counts(store: SqliteStore) -> None:
    fill(store, [(0.4, True), (0.1, False)])
    changed = item(0, 0.2)
    changed = Prepared(changed.mention, None, changed.text + " edited", "en", "new-hash",
                       ("Acme",))  # fmt: skip
    store.save_batch("news", [changed], None, NOW)
    assert [m.mention_id for m in store.corrected_mentions()] == ["news:1"]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f'[kuulo]\ndatabase = "{tmp_path / "kuulo.db"}"\n\n'
        '[[brands]]\nname = "Acme"\nquery = "acme"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(cli_sentiment, "_scorer", lambda settings: FakeScorer())
    return str(path)


def test_calibrate_command_says_what_it_needs(config: str, tmp_path: Path) -> None:
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        fill(opened, synthetic(50, 6))
    result = CliRunner().invoke(cli, ["--config", config, "sentiment", "calibrate"])
    assert result.exit_code == 0, result.output
    assert "Acme (en): 50 corrected mentions" in result.output
    assert "needs 200 ([sentiment] calibration_min_corrections)" in result.output
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        fill(opened, synthetic(250, 7), brand="Acme2")
    args = ["--config", config, "sentiment", "calibrate", "--brand", "Acme2", "--dry-run"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "-> fitted 0." in result.output
    assert "dry run: not stored" in result.output
    assert "after (5-fold)" in result.output


def test_export_labels_round_trips_through_eval(config: str, tmp_path: Path) -> None:
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        fill(opened, synthetic(20, 8))
    out = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(cli, ["--config", config, "sentiment", "export-labels", "-o",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 20
    assert set(rows[0]) == {"text", "label", "language", "brand"}
    assert rows[0]["brand"] == "Acme"
    assert rows[0]["language"] == "en"
    result = CliRunner().invoke(cli, ["--config", config, "sentiment", "eval", str(out)])
    assert result.exit_code == 0, result.output
    assert "fake 1: 20 texts" in result.output
    assert result.output.splitlines()[-1].split()[:2] == ["all", "20"]


def test_a_fit_that_does_not_help_is_not_stored(store: SqliteStore) -> None:
    rnd = random.Random(9)  # noqa: S311 - reproducible synthetic data
    rows = [(round(p, 3), p >= DEFAULT_CUT) for p in (rnd.random() for _ in range(250))]
    fill(store, rows)  # the scorer's own cut is already right
    [report] = calibrate(store, FakeScorer(), min_corrections=200, recall_target=None, now=NOW)
    assert report.message.startswith("kept the current threshold")
    assert not report.stored
    assert store.brand_thresholds() == {}


def test_forget_drops_the_threshold(config: str, tmp_path: Path) -> None:
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        fill(opened, synthetic(250, 10))
    base = ["--config", config, "sentiment", "calibrate"]
    result = CliRunner().invoke(cli, base)
    assert "stored; 250 mentions will be re-scored" in result.output
    result = CliRunner().invoke(cli, [*base, "--forget", "--brand", "Acme"])
    assert result.exit_code == 0, result.output
    assert "Acme: thresholds dropped; 0 mentions will be re-scored" in result.output
    result = CliRunner().invoke(cli, [*base, "--forget", "--brand", "Acme"])
    assert result.exit_code == 1
    assert "Acme: not calibrated" in result.output
    with open_store(tmp_path / "kuulo.db") as opened:
        assert opened.brand_thresholds() == {}
