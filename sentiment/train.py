"""``python -m sentiment.train`` (``make train-sentiment``): rebuild the default scorer's models.

Reads the development data in ``../shared/data/sentiment`` (never the held-out sets), follows
the recipe of ../shared/docs/sentiment.md and writes ``sentiment/models/``: per language an
``.npz`` (float32 arrays, no pickle) and a ``.json`` (transform, thresholds, SHA-256 of the
npz), plus ``MODEL_CARD.md``. Needs scikit-learn (the ``train`` extra); scoring does not.

- English: TSE ``train`` part + GoEmotions (negative/neutral/positive rows); thresholds tuned on
  the TSE ``test`` part, which stays out of the shipped model so its figures stay honest.
- Finnish: FinnSentiment splits 1-16, tuned on 17-18, balanced class weights; the shipped model
  is refitted on 1-18 with the same settings (the doc's recipe), so figures on 17-18 measured
  with the shipped model are optimistic: the card reports those of the 1-16 model.

``--data-dir`` reads the development data from elsewhere. ``kuulo sentiment retrain``
(``sentiment/retrain.py``) reuses this recipe with staff corrections added to the training part.

Deterministic: fixed hyper-parameters (chosen on the validation splits, see the card), lbfgs,
a fixed seed for the ``--limit`` subsample, and byte-stable npz files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment import linear
from sentiment.model_card import write_model_card

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentiment"
SEED = 20261125
TOKEN_PATTERN = linear.DEFAULT_TOKEN_PATTERN
LABELS = ("negative", "neutral", "positive")
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
CLEAR_PRECISION = 0.9  # "clearly negative" sentence: validation precision at least this
CLEAR_MIN_SUPPORT = 20  # ...measured on at least this many validation texts
MAX_PROBA_DIFF = 1e-6  # numpy routine vs scikit-learn, checked on every export
VADER_NEGATIVE = -0.05  # the default [sentiment] negative_threshold, as the doc measured it

Row = tuple[str, str]  # text, label


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one language's model (chosen on its validation split)."""

    language: str
    word_features: int
    char_features: int
    C: float
    class_weight: str | None
    uses_vader: bool
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2


RECIPES = {
    "en": Recipe("en", 30_000, 30_000, 1.0, None, uses_vader=True),
    "fi": Recipe("fi", 20_000, 30_000, 1.0, "balanced", uses_vader=False),
}


@dataclass
class Split:
    train: list[Row]  # fitted for model selection
    valid: list[Row]  # thresholds and reported figures
    final: list[Row]  # what the shipped model is fitted on
    sources: list[str]  # data files used, for the card


def read_tsv(path: Path) -> list[dict[str, str]]:
    """The development TSVs: header line, tabs separate, no quoting (see the data README)."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        return [dict(zip(header, row, strict=True)) for row in reader]


def english(data_dir: Path) -> Split:
    tse = read_tsv(data_dir / "tweet_sentiment_extraction.tsv")
    goemotions = read_tsv(data_dir / "goemotions_polarity.tsv")
    train = [(r["text"], r["label"]) for r in tse if r["part"] == "train"]
    train += [(r["text"], r["label"]) for r in goemotions if r["label"] in LABELS]
    valid = [(r["text"], r["label"]) for r in tse if r["part"] == "test"]
    files = ["tweet_sentiment_extraction.tsv", "goemotions_polarity.tsv"]
    return Split(train, valid, train, files)


def finnish(data_dir: Path) -> Split:
    rows = read_tsv(data_dir / "finnsentiment_split01-18.tsv")
    train = [(r["text"], r["label"]) for r in rows if int(r["split"]) <= 16]
    valid = [(r["text"], r["label"]) for r in rows if int(r["split"]) >= 17]
    return Split(train, valid, train + valid, ["finnsentiment_split01-18.tsv"])


def subsample(split: Split, limit: int, seed: int = SEED) -> Split:
    """A seeded subset (the smoke test trains on 2k rows): ``limit`` train, limit/4 valid."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    train = rng.sample(split.train, min(limit, len(split.train)))
    valid = rng.sample(split.valid, min(max(limit // 4, 50), len(split.valid)))
    final = train + valid if len(split.final) > len(split.train) else train
    return Split(train, valid, final, split.sources)


# -- fitting -------------------------------------------------------------------------------------


@dataclass
class Fitted:
    vectorisers: list[Any]  # word, then char_wb TfidfVectorizer
    classifier: Any  # LogisticRegression

    def proba(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        matrix = _hstack([v.transform(texts) for v in self.vectorisers])
        result: npt.NDArray[np.float64] = self.classifier.predict_proba(matrix)
        return result


def _hstack(blocks: list[Any]) -> Any:
    """The vectorisers' blocks side by side (what a FeatureUnion would build)."""
    from scipy.sparse import hstack  # type: ignore[import-untyped]

    return hstack(blocks).tocsr()


def fit(recipe: Recipe, rows: Sequence[Row]) -> Fitted:
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    texts = [t for t, _ in rows]
    common = {"lowercase": True, "sublinear_tf": True, "min_df": recipe.min_df, "norm": "l2"}
    word = TfidfVectorizer(
        analyzer="word", token_pattern=TOKEN_PATTERN, ngram_range=recipe.word_ngrams,
        max_features=recipe.word_features, **common,
    )  # fmt: skip
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=recipe.char_ngrams, max_features=recipe.char_features,
        **common,
    )  # fmt: skip
    matrix = _hstack([word.fit_transform(texts), char.fit_transform(texts)])
    classifier = LogisticRegression(
        C=recipe.C, class_weight=recipe.class_weight, max_iter=3000, random_state=SEED
    )
    classifier.fit(matrix, [label for _, label in rows])
    if tuple(classifier.classes_) != LABELS:
        raise ValueError(f"training data must have the labels {LABELS}")
    return Fitted([word, char], classifier)


def rule_labels(
    proba: npt.NDArray[np.float64], threshold: float, vader_negative: npt.NDArray[np.bool_]
) -> list[str]:
    """The scorer's rule on whole texts: negative if P(neg) >= threshold, or VADER voted, or
    negative is the likeliest class; else the likelier of neutral and positive."""
    likeliest = proba.argmax(axis=1) == 0
    negative = (proba[:, 0] >= threshold) | vader_negative | likeliest
    other = np.where(proba[:, 2] > proba[:, 1], "positive", "neutral")
    return list(np.where(negative, "negative", other))


def negative_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    tp = sum(g == p == "negative" for g, p in zip(gold, predicted, strict=True))
    flagged = sum(p == "negative" for p in predicted)
    actual = sum(g == "negative" for g in gold)
    return 2 * tp / (flagged + actual) if flagged + actual else 0.0


def choose_threshold(
    proba: npt.NDArray[np.float64], gold: Sequence[str], vader_negative: npt.NDArray[np.bool_]
) -> float:
    """The P(negative) threshold maximising validation negative F1 (lowest on ties)."""
    scores = [negative_f1(gold, rule_labels(proba, t, vader_negative)) for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmax(scores))])


def _precise(flagged: npt.NDArray[np.bool_], is_negative: npt.NDArray[np.bool_]) -> bool:
    support = int(flagged.sum())
    return support >= CLEAR_MIN_SUPPORT and is_negative[flagged].mean() >= CLEAR_PRECISION


def clear_threshold(proba: npt.NDArray[np.float64], gold: Sequence[str], floor: float) -> float:
    """Lowest P(negative) >= ``floor`` at which validation precision reaches CLEAR_PRECISION."""
    is_negative = np.asarray(gold) == "negative"
    for t in np.round(np.arange(max(floor, 0.5), 0.991, 0.01), 3):
        if _precise(proba[:, 0] >= t, is_negative):
            return float(t)
    return 0.99


def clear_vader_threshold(
    proba: npt.NDArray[np.float64],
    gold: Sequence[str],
    compounds: npt.NDArray[np.float64],
    threshold: float,
) -> float:
    """English: the highest VADER compound at which "both voters say negative" (P(negative) >=
    ``threshold`` and compound <= it) reaches CLEAR_PRECISION; VADER alone never does."""
    is_negative = np.asarray(gold) == "negative"
    for c in np.round(np.arange(-0.3, -0.951, -0.05), 3):
        if _precise((proba[:, 0] >= threshold) & (compounds <= c), is_negative):
            return float(c)
    return -1.0


# -- export --------------------------------------------------------------------------------------


def write_npz(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """``np.savez_compressed`` without the time stamps: the same model gives the same bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def export(fitted: Fitted, recipe: Recipe, rule: dict[str, float | None], out: Path) -> Path:
    """Write ``<language>.npz`` and ``<language>.json``; returns the JSON's path."""
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, npt.NDArray[Any]] = {
        "coef": fitted.classifier.coef_.astype(np.float32),
        "intercept": fitted.classifier.intercept_.astype(np.float64),
        "idf": np.concatenate([v.idf_ for v in fitted.vectorisers]).astype(np.float32),
    }
    specs = []
    for i, vectoriser in enumerate(fitted.vectorisers):
        terms = sorted(vectoriser.vocabulary_, key=vectoriser.vocabulary_.__getitem__)
        joined = linear.VOCAB_SEPARATOR.join(terms).encode("utf-8")
        arrays[f"vocab{i}"] = np.frombuffer(joined, dtype=np.uint8)
        specs.append(_vectoriser_spec(vectoriser, len(terms)))
    npz_path = out / f"{recipe.language}.npz"
    write_npz(npz_path, arrays)
    config = {
        "format": linear.FORMAT,
        "language": recipe.language,
        "classes": list(LABELS),
        "vectorisers": specs,
        "rule": rule,
        "artifact": {"file": npz_path.name, "sha256": linear.sha256_file(npz_path)},
    }
    json_path = out / f"{recipe.language}.json"
    json_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return json_path


def _vectoriser_spec(vectoriser: Any, size: int) -> dict[str, Any]:
    return {
        "analyzer": vectoriser.analyzer,
        "ngram_range": list(vectoriser.ngram_range),
        "token_pattern": vectoriser.token_pattern if vectoriser.analyzer == "word" else None,
        "lowercase": vectoriser.lowercase,
        "sublinear_tf": vectoriser.sublinear_tf,
        "norm": vectoriser.norm,
        "features": size,
    }


def check_export(fitted: Fitted, model: linear.LinearModel, texts: Sequence[str]) -> float:
    """Largest |numpy - scikit-learn| probability on ``texts``; over 1e-6 is an error."""
    ours = model.predict_proba(model.transform(texts))
    diff = float(np.abs(ours - fitted.proba(texts)).max()) if texts else 0.0
    if diff > MAX_PROBA_DIFF:
        raise RuntimeError(f"{model.language}: numpy scoring differs from scikit-learn by {diff}")
    return diff


# -- one language --------------------------------------------------------------------------------


def language_split(language: str, data_dir: Path, limit: int | None = None) -> Split:
    """One language's development split (a seeded subset of it with ``limit``)."""
    split = (english if language == "en" else finnish)(data_dir)
    return subsample(split, limit) if limit else split


def with_extra_rows(split: Split, extra: Sequence[Row], source: str) -> Split:
    """``extra`` rows (staff corrections) added to the training part; the model is fitted on
    that alone, never refitted on the validation split, so validation figures stay honest."""
    train = [*split.train, *extra]
    return Split(train, split.valid, train, [*split.sources, source])


def train_language(
    language: str,
    data_dir: Path,
    out: Path,
    limit: int | None = None,
    split: Split | None = None,
) -> dict[str, Any]:
    """Select, tune, export and measure one language's model; returns its JSON config.
    ``split`` replaces the development split (``sentiment.retrain`` adds corrections)."""
    recipe = RECIPES[language]
    split = split or language_split(language, data_dir, limit)
    started = time.perf_counter()
    selected = fit(recipe, split.train)
    texts, gold = [t for t, _ in split.valid], [label for _, label in split.valid]
    proba = selected.proba(texts)
    compounds = _compounds(texts) if recipe.uses_vader else np.zeros(len(texts))
    threshold = choose_threshold(proba, gold, compounds <= VADER_NEGATIVE)
    rule: dict[str, float | None] = {
        "threshold": threshold,
        "clear_threshold": clear_threshold(proba, gold, threshold),
        "clear_vader_threshold": (
            clear_vader_threshold(proba, gold, compounds, threshold) if recipe.uses_vader else None
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        candidate = linear.load(language, export(selected, recipe, rule, Path(tmp)).parent)
        check_export(selected, candidate, texts)
        figures = _validation_figures(candidate, split.valid, proba)
    final = selected if split.final is split.train else fit(recipe, split.final)
    json_path = export(final, recipe, rule, out)
    shipped = linear.load(language, out)
    training = {
        "recipe": asdict(recipe),
        "rows": {"train": _counts(split.train), "valid": _counts(split.valid),
                 "final": _counts(split.final)},
        "refitted_on_validation": final is not selected,
        "figures": figures,
        "max_proba_diff": check_export(final, shipped, texts),
        "features": shipped.n_features,
        "npz_bytes": (out / f"{language}.npz").stat().st_size,
        "sources": split.sources,
        "limit": limit,
        "scikit_learn": _sklearn_version(),
    }  # fmt: skip
    config: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    config["training"] = training  # the npz (and its recorded hash) is unchanged
    json_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(f"{language}: {shipped.n_features} features, {training['npz_bytes']:,} bytes, "  # noqa: T201
          f"rule {rule}, {time.perf_counter() - started:.0f} s")  # fmt: skip
    return config


def _sklearn_version() -> str:
    import sklearn  # type: ignore[import-untyped]

    return str(sklearn.__version__)


def _compounds(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


def _counts(rows: Sequence[Row]) -> dict[str, int]:
    counts = Counter(label for _, label in rows)
    return {label: counts[label] for label in LABELS}


def _validation_figures(
    model: linear.LinearModel, valid: Sequence[Row], proba: npt.NDArray[np.float64]
) -> dict[str, dict[str, Any]]:
    """Validation metrics: the LR alone (argmax), VADER (English) and the scorer as shipped."""
    from kuulo.evaluation import LabelledText, metrics, score_rows
    from sentiment.trained import TrainedScorer
    from sentiment.vader import VaderScorer

    gold = [label for _, label in valid]
    rows = [LabelledText(t, label, model.language) for t, label in valid]
    argmax = [LABELS[i] for i in proba.argmax(axis=1)]
    figures = {"LR alone (argmax)": metrics(gold, argmax).as_dict()}
    if model.language == "en":
        figures["VADER (the `vader` scorer)"] = metrics(
            gold, score_rows(VaderScorer(), rows)
        ).as_dict()
    scorer = TrainedScorer(models={model.language: model})
    figures["default scorer"] = metrics(gold, score_rows(scorer, rows)).as_dict()
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sentiment.train", description=__doc__)
    parser.add_argument(
        "--data-dir", "--data", dest="data", type=Path, default=DATA_DIR,
        help="development data folder (default: ../shared/data/sentiment)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=linear.MODELS_DIR, help="models folder")
    parser.add_argument("--languages", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--limit", type=int, help="train on a seeded subset (smoke tests)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.exit(2, f"development data not found at {args.data} (see --data-dir)\n")
    for language in args.languages:
        train_language(language, args.data, args.out, args.limit)
    write_model_card(args.out, args.data)
    print(f"wrote {args.out}")  # noqa: T201


if __name__ == "__main__":
    main()
