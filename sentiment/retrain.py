"""The default scorer's trainer (entry point ``kuulo.trainers`` ``default``): staff corrections
join the development training data of their language and make a new model version.

- **Held out.** One correction in five, chosen by a hash of its normalised text (so the same
  text, e.g. a retweet, always falls on the same side), is never trained on: it is where the
  model in force and the new one are compared, beside the development validation split.
- **Recipe.** The language's recipe of ``sentiment.train`` on its training part plus the other
  corrections; thresholds tuned on the validation split as before. Unlike the shipped Finnish
  model, a retrained one is never refitted on the validation split (its figures stay honest; the
  shipped Finnish model has seen splits 17-18, so the comparison there favours the old model).
- **Where.** ``<model_dir>/<language>-<base>-<corrections>/``: ``<language>.npz`` + ``.json`` +
  ``MODEL_CARD.md``, exactly the shipped format (checksummed, no pickles). ``base``: the
  shipped artifact's SHA-256 prefix; ``corrections``: that of the corrections (and ``limit``),
  so the same corrections give the same folder and, training being deterministic, the same bytes.
- **Activation.** ``<model_dir>/active.json`` (``{"en": "<folder>"}``), written atomically; the
  default scorer reads it at start (:func:`sentiment.linear.load_active`).

Needs scikit-learn (``pip install 'kuulo[train]'``) and the development data (``--data-dir``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from kuulo.errors import PluginError
from kuulo.evaluation import LabelledText, Metrics, metrics, score_rows
from kuulo.retraining import RetrainReport, RetrainRequest
from kuulo.settings import SentimentSettings
from sentiment import linear
from sentiment.model_card import CORRECTIONS, write_model_card
from sentiment.train import (
    DATA_DIR,
    LABELS,
    RECIPES,
    Row,
    Split,
    language_split,
    train_language,
    with_extra_rows,
)
from sentiment.trained import TrainedScorer

HELD_OUT_EVERY = 5  # one correction in five is held out


def is_held_out(text: str) -> bool:
    normalised = " ".join(text.lower().split()).encode("utf-8", "surrogatepass")
    return int(hashlib.sha256(normalised).hexdigest()[:8], 16) % HELD_OUT_EVERY == 0


def version_name(language: str, rows: Sequence[Row], limit: int | None) -> str:
    """``<language>-<shipped model's SHA-256 prefix>-<corrections' SHA-256 prefix>``."""
    shipped = json.loads((linear.MODELS_DIR / f"{language}.json").read_text(encoding="utf-8"))
    payload = json.dumps({"rows": sorted(rows), "limit": limit}, ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{language}-{shipped['artifact']['sha256'][:8]}-{digest[:8]}"


class DefaultTrainer:
    """Retrains ``sentiment.trained.TrainedScorer``'s models; see the module docstring."""

    languages: ClassVar[tuple[str, ...]] = tuple(RECIPES)

    def retrain(self, request: RetrainRequest) -> RetrainReport:
        language, started = request.language, time.perf_counter()
        if language not in RECIPES:
            raise PluginError(f"no model to retrain for language {language!r}")
        data_dir = request.data_dir or DATA_DIR
        if not data_dir.is_dir():
            raise PluginError(f"development data not found at {data_dir} (see --data-dir)")
        rows = sorted({(r.text, r.label) for r in request.corrections if r.label in LABELS})
        held = [row for row in rows if is_held_out(row[0])]
        train = [row for row in rows if not is_held_out(row[0])]
        name = version_name(language, rows, request.limit)
        split = language_split(language, data_dir, request.limit)
        path = request.model_dir / name
        _build(language, data_dir, with_extra_rows(split, train, CORRECTIONS), path, request.limit)
        new = linear.load(language, path)  # as the scorer will: checksum verified
        old_name = linear.active_names(request.model_dir).get(language, "shipped")
        old = linear.load_active(language, request.model_dir)
        dev = [LabelledText(t, label, language) for t, label in split.valid]
        held_rows = [LabelledText(t, label, language) for t, label in held]
        figures = {
            key: _measure(model, rows_, request.settings)
            for key, model, rows_ in (
                ("old_dev", old, dev), ("new_dev", new, dev),
                ("old_held_out", old, held_rows), ("new_held_out", new, held_rows),
            )
        }  # fmt: skip
        _record(path, language, rows, train, held, figures)
        return RetrainReport(
            language, name, path, old_name, len(train), len(held),
            sum(label == "negative" for _, label in held), **figures,
            seconds=round(time.perf_counter() - started, 1),
        )  # fmt: skip

    def activate(self, model_dir: Path, language: str, name: str) -> None:
        linear.load(language, model_dir / name)  # refuse to point at a broken model
        names = linear.active_names(model_dir)
        _write_pointer(model_dir, {**names, language: name})

    def deactivate(self, model_dir: Path, language: str) -> bool:
        names = linear.active_names(model_dir)
        if language not in names:
            return False
        del names[language]
        _write_pointer(model_dir, names)
        return True

    def active(self, model_dir: Path) -> dict[str, str]:
        return linear.active_names(model_dir)


def _build(language: str, data_dir: Path, split: Split, path: Path, limit: int | None) -> None:
    """Train into a temporary folder beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        build = Path(tmp) / "model"
        train_language(language, data_dir, build, limit, split=split)
        write_model_card(build, data_dir)
        if path.exists():
            shutil.rmtree(path)
        build.rename(path)


def _measure(
    model: linear.LinearModel, rows: list[LabelledText], settings: SentimentSettings
) -> Metrics:
    """The scorer's own rules with this model (no brand threshold)."""
    scorer = TrainedScorer(settings, models={model.language: model})
    return metrics([r.label for r in rows], score_rows(scorer, rows))


def _record(
    path: Path,
    language: str,
    rows: list[Row],
    train: list[Row],
    held: list[Row],
    figures: dict[str, Metrics],
) -> None:
    """The corrections and the new model's figures, in its JSON (the npz and its recorded
    hash are unchanged) and its card. Only what the new model and its inputs decide, so the
    same corrections give the same files whichever model was in force."""
    json_path = path / f"{language}.json"
    config = json.loads(json_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    config["retrained"] = {
        "base": {"file": f"sentiment/models/{language}.npz", "sha256": _shipped_sha(language)},
        "corrections_sha256": digest.hexdigest(),
        "corrections": {"trained_on": _counts(train), "held_out": _counts(held)},
        "held_out_rule": f"sha256(lower-cased, space-normalised text) % {HELD_OUT_EVERY} == 0",
        "figures": {
            "development validation": figures["new_dev"].as_dict(),
            "held-out corrections": figures["new_held_out"].as_dict(),
        },
    }
    json_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    card = path / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8") + _card_section(config["retrained"])
    card.write_text(text, encoding="utf-8")


def _card_section(retrained: dict[str, Any]) -> str:
    lines = [
        "",
        "## Retraining (`kuulo sentiment retrain`)",
        "",
        f"- Base: the shipped `{retrained['base']['file']}` recipe (SHA-256 "
        f"`{retrained['base']['sha256']}`), trained again with the staff corrections below; "
        "never refitted on the validation split.",
        f"- Corrections: SHA-256 `{retrained['corrections_sha256']}`; trained on "
        f"{retrained['corrections']['trained_on']}, held out {retrained['corrections']['held_out']}"
        f" ({retrained['held_out_rule']}).",
        "",
        "| Measured on | n | neg P | neg R | neg F1 | macro-F1 | accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in retrained["figures"].items():
        values = (m["neg_precision"], m["neg_recall"], m["neg_f1"], m["macro_f1"], m["accuracy"])
        lines.append(f"| {name} | {m['n']} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def _shipped_sha(language: str) -> str:
    config = json.loads((linear.MODELS_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return str(config["artifact"]["sha256"])


def _counts(rows: Sequence[Row]) -> dict[str, int]:
    return {label: sum(r[1] == label for r in rows) for label in LABELS}


def _write_pointer(model_dir: Path, names: dict[str, str]) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / f".{linear.POINTER}.tmp"
    tmp.write_text(json.dumps(dict(sorted(names.items())), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, model_dir / linear.POINTER)
