"""``kuulo sentiment retrain``: a smoke run on a 2k-row subset of the English development data
plus ~200 synthetic staff corrections, end to end through the CLI, the store and the scorer.

Real parts: a SQLite file with stored mentions and corrections, scikit-learn training, the
numpy scorer loading the new version through ``[sentiment] model_dir``/``active.json``.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kuulo.cli import cli
from kuulo.errors import PluginError
from kuulo.model import Mention, ScoreInput
from kuulo.normalise import Prepared, content_hash
from kuulo.settings import SentimentSettings
from kuulo.store import open_store
from sentiment import linear
from sentiment.retrain import is_held_out
from sentiment.trained import TrainedScorer

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sentiment"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
pytestmark = [
    pytest.mark.skipif(not DATA_DIR.is_dir(), reason="no development data at ../shared"),
]

COMPLAINTS = ["still no refund after {n} days", "my bag is lost again, flight {n}",
              "cancelled my order #{n} without telling me", "{n} hours on hold, nobody answers",
              "charged twice for order {n}", "the app crashes at checkout, try {n}"]  # fmt: skip
NEUTRAL = ["what time does store {n} open", "is flight {n} on schedule",
           "new price list for {n} models is out"]  # fmt: skip
PRAISE = ["thanks for the quick help with order {n}", "lovely crew on flight {n}"]


def corrections(n: int = 200) -> list[tuple[str, str]]:
    rnd = random.Random(7)  # noqa: S311 - reproducible synthetic data
    rows = []
    for i in range(n):
        label = rnd.choices(["negative", "neutral", "positive"], [0.45, 0.35, 0.2])[0]
        pool = {"negative": COMPLAINTS, "neutral": NEUTRAL, "positive": PRAISE}[label]
        rows.append((f"@acme {rnd.choice(pool).format(n=i)}", label))
    return rows


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f'[kuulo]\ndatabase = "{tmp_path / "kuulo.db"}"\n\n'
        f'[sentiment]\nmodel_dir = "{tmp_path / "models"}"\n\n'
        '[[brands]]\nname = "Acme"\nquery = "acme"\n',
        encoding="utf-8",
    )
    with open_store(tmp_path / "kuulo.db") as store:
        store.sync_sources([("news", "rss")], NOW)
        items = []
        for i, (text, _) in enumerate(corrections()):
            m = Mention("rss", "news", str(i), f"https://news.example/{i}", text,
                        published_at=NOW - timedelta(minutes=i))  # fmt: skip
            items.append(Prepared(m, None, text, "en", content_hash(None, text, m.url), ("Acme",)))
        store.save_batch("news", items, None, NOW)
        for i, (_, label) in enumerate(corrections()):
            store.correct_sentiment([f"news:{i}"], label, "kim", NOW)
    return str(path)


def retrain(config: str, *extra: str) -> str:
    args = ["--config", config, "sentiment", "retrain", "--language", "en", "--limit", "2000",
            "--data-dir", str(DATA_DIR), "--min-corrections", "150", *extra]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_retrain_writes_a_new_version_and_activates_it_only_when_asked(
    config: str, tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    models = tmp_path / "models"
    output = retrain(config)
    [folder] = [p for p in models.iterdir() if not p.name.startswith(".")]
    shipped = json.loads((linear.MODELS_DIR / "en.json").read_text(encoding="utf-8"))
    assert folder.name.startswith(f"en-{shipped['artifact']['sha256'][:8]}-")
    assert f"new model {folder.name}" in output
    for name in ("dev validation, old", "dev validation, new", "held-out corrections, new"):
        assert name in output
    # 2k training rows cannot match the shipped model on the development split: refused
    assert "worse: negative F1 on the development validation split drops" in output
    assert "not activated" in output
    assert not (models / "active.json").exists()

    config_json = json.loads((folder / "en.json").read_text(encoding="utf-8"))
    counts = config_json["retrained"]["corrections"]
    held = sum(is_held_out(t) for t, _ in corrections())
    assert sum(counts["held_out"].values()) == held
    assert sum(counts["trained_on"].values()) == 200 - held
    assert 0 < held < 80
    assert config_json["artifact"]["sha256"] != shipped["artifact"]["sha256"]
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Retraining" in card
    assert "Smoke-test model" in card
    first_bytes = (folder / "en.npz").read_bytes()

    output = retrain(config, "--force")  # same corrections: same folder, same bytes
    assert "activated in" in output
    assert {p.name for p in models.iterdir()} == {folder.name, "active.json"}
    assert (folder / "en.npz").read_bytes() == first_bytes
    assert json.loads((models / "active.json").read_text(encoding="utf-8")) == {"en": folder.name}

    settings = SentimentSettings(model_dir=models)
    scorer = TrainedScorer(settings)
    assert scorer.version != TrainedScorer.version
    assert config_json["artifact"]["sha256"][:8] in scorer.version
    assert scorer._models["en"].config["retrained"]["corrections_sha256"]
    [score] = scorer.score([ScoreInput("@acme still no refund after 9 days", "en")])
    assert score.version == scorer.version
    assert TrainedScorer(SentimentSettings()).version == TrainedScorer.version  # elsewhere: shipped

    # a tampered artifact is refused at start, as a shipped one is
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken / folder.name)
    (broken / "active.json").write_text(json.dumps({"en": folder.name}), encoding="utf-8")
    npz = broken / folder.name / "en.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(PluginError, match="SHA-256"):
        TrainedScorer(SentimentSettings(model_dir=broken))
    (broken / "active.json").write_text(json.dumps({"en": "../../etc"}), encoding="utf-8")
    with pytest.raises(PluginError, match="version folder"):
        TrainedScorer(SentimentSettings(model_dir=broken))

    result = CliRunner().invoke(
        cli, ["--config", config, "sentiment", "retrain", "--deactivate", "--language", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "en: back to the shipped model" in result.output
    assert TrainedScorer(settings).version == TrainedScorer.version


def test_too_few_corrections_and_a_scorer_without_trainer(config: str, tmp_path: Path) -> None:
    args = ["--config", config, "sentiment", "retrain", "--language", "fi"]
    result = CliRunner().invoke(cli, args)  # the 200 corrections are English
    assert result.exit_code == 0, result.output
    assert "fi: 0 corrected mentions, needs 200: not retrained" in result.output
    toml = (
        Path(config)
        .read_text(encoding="utf-8")
        .replace("[sentiment]\n", '[sentiment]\nscorer = "vader"\n')
    )
    Path(config).write_text(toml, encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "scorer 'vader' cannot be retrained" in result.output
    assert not (tmp_path / "models").exists()
