"""A TF-IDF + logistic-regression model, scored with numpy alone.

Why not the scikit-learn objects: pickles break across scikit-learn versions and running one
runs arbitrary code, and scikit-learn with scipy is ~200 MB that a listening service does not
need at run time. So ``sentiment/train.py`` exports each model as an ``.npz`` (vocabularies,
idf, coefficients; float32) beside a JSON file (analysers, n-gram ranges, thresholds, the
npz's SHA-256), and this module re-implements the exact transform:

- lower-case; word tokens are ``token_pattern`` matches, joined into n-grams with one space;
- ``char_wb`` n-grams are taken inside each whitespace-separated word padded with one space, a
  word no longer than ``n`` counted once (scikit-learn's ``_char_wb_ngrams``), found for the
  whole batch at once by :mod:`sentiment.char_ngrams`;
- unknown terms are dropped; tf is ``1 + ln(count)`` (sublinear), times idf;
- each vectoriser's block is L2-normalised on its own (a FeatureUnion/hstack of two
  TfidfVectorizers), then ``softmax(x @ coef.T + intercept)``.

``tests/sentiment/test_trained.py`` checks the probabilities against scikit-learn's to 1e-6.
Every occurrence of a term is also tied to the whitespace word it came from, so a prediction
can be explained in the words of the text (see :meth:`LinearModel.word_contributions`).
"""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kuulo.errors import PluginError
from sentiment.char_ngrams import CharNgramIndex

FORMAT = "kuulo-tfidf-lr/1"
CLASSES = ("negative", "neutral", "positive")  # column order of every probability array
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # noqa: S105 - scikit-learn's; we train with it
VOCAB_SEPARATOR = "\n"  # never inside a term: terms come from whitespace-split text
_CACHE_WORDS = 100_000  # per-word tokens kept between batches (bounded memory)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WordBlock:
    """The word vectoriser: token pattern, n-gram range, term -> column."""

    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    token_pattern: re.Pattern[str]


@dataclass
class Features:
    """The TF-IDF rows of a batch, plus what is needed to explain them word by word.

    ``row``/``col``/``value``: one entry per distinct (text, term). ``entry``: for each
    occurrence of a term, which distinct entry it counts towards; ``word``: the whitespace word
    it came from (numbered across the batch); ``share``: 1, or 1/2 for a word bigram split over
    its two words. ``word_start[i]``: the first word of text ``i`` (and the total at the end).
    """

    n_texts: int
    row: IntArray
    col: IntArray
    value: FloatArray
    entry: IntArray
    word: IntArray
    share: FloatArray
    count: FloatArray
    word_start: IntArray


@dataclass
class _Batch:
    """What the Python pass over a batch collects; numpy does the rest.

    Every lower-cased whitespace word (for the char n-grams); per word its cached unigram
    columns (int32 bytes) and how many; per word bigram the phrase and its two tokens' words.
    """

    words: list[str] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    per_word: list[int] = field(default_factory=list)
    bigrams: list[str] = field(default_factory=list)
    bigram_first: list[int] = field(default_factory=list)
    bigram_second: list[int] = field(default_factory=list)


_WordEntry = tuple[bytes, int, tuple[str, ...]]


class LinearModel:
    """A loaded model: ``predict_proba`` and ``word_contributions`` over a batch of texts."""

    def __init__(self, config: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> None:
        if config.get("format") != FORMAT:
            raise PluginError(f"unsupported sentiment model format {config.get('format')!r}")
        self.config = config
        self.language: str = config["language"]
        self.classes: tuple[str, ...] = tuple(config["classes"])
        if self.classes != CLASSES:
            raise PluginError(f"sentiment model classes must be {CLASSES}, not {self.classes}")
        self.coef = arrays["coef"].astype(np.float64)
        self.intercept = arrays["intercept"].astype(np.float64)
        self.idf = arrays["idf"].astype(np.float64)
        self.words, self.chars, sizes = _blocks(config["vectorisers"], arrays)
        self.block_of_col = np.repeat(np.arange(len(sizes)), sizes)
        self._bigrams = self.words.vocabulary if self.words.ngram_range[1] == 2 else None
        self._word_cache: dict[str, _WordEntry] = {}

    @property
    def n_features(self) -> int:
        return int(self.idf.shape[0])

    def transform(self, texts: Sequence[str]) -> Features:
        """TF-IDF features of ``texts`` (see the module docstring for the exact steps)."""
        batch = _Batch()
        word_start = [0]
        for text in texts:
            words = text.lower().split()
            self._add_text(words, word_start[-1], batch)
            word_start.append(word_start[-1] + len(words))
        return self._features(len(texts), batch, np.asarray(word_start, dtype=np.int64))

    def predict_proba(self, features: Features) -> FloatArray:
        """Class probabilities, one row per text, columns in ``self.classes`` order."""
        logits = np.empty((features.n_texts, len(self.classes)))
        for k in range(len(self.classes)):
            weights = self.coef[k, features.col] * features.value
            logits[:, k] = np.bincount(features.row, weights, minlength=features.n_texts)
        logits += self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def word_contributions(self, features: Features, klass: IntArray) -> FloatArray:
        """Per whitespace word: coefficient x feature value towards class ``klass[text]``.

        A term occurring twice splits its contribution evenly over its occurrences; a word
        bigram over its two words; char n-grams belong to the word they were cut from.
        """
        per_entry = self.coef[klass[features.row], features.col] * features.value
        per_occurrence = per_entry[features.entry] * features.share / features.count[features.entry]
        total = int(features.word_start[-1])
        return np.bincount(features.word, per_occurrence, minlength=total).astype(np.float64)

    # -- feature extraction ------------------------------------------------------------------

    def _add_text(self, words: list[str], first: int, batch: _Batch) -> None:
        """Collect one text's words and word terms (per word, one cached lookup)."""
        tokens: list[str] = []
        owners: list[int] = []
        cache = self._word_cache
        batch.words += words
        for j, word in enumerate(words):
            chunk, size, word_tokens = cache.get(word) or self._word_entry(word)
            batch.chunks.append(chunk)
            batch.per_word.append(size)
            if word_tokens:
                tokens += word_tokens
                owners += [first + j] * len(word_tokens)
        if self._bigrams is not None and len(tokens) > 1:
            batch.bigrams += map(" ".join, pairwise(tokens))
            batch.bigram_first += owners[:-1]
            batch.bigram_second += owners[1:]

    def _word_entry(self, word: str) -> _WordEntry:
        """One lower-cased whitespace word's tokens and their unigram columns (-1: unknown)."""
        tokens = _tokens(self.words.token_pattern, word)
        ids = list(map(self.words.vocabulary.get, tokens, repeat(-1)))
        if len(self._word_cache) >= _CACHE_WORDS:
            self._word_cache.clear()
        entry = (array("i", ids).tobytes(), len(ids), tokens)
        self._word_cache[word] = entry
        return entry

    def _features(self, n_texts: int, batch: _Batch, word_start: IntArray) -> Features:
        col, word, share = self._occurrences(batch, int(word_start[-1]))
        text_of_word = np.repeat(np.arange(n_texts, dtype=np.int64), np.diff(word_start))
        keys = text_of_word[word] * self.n_features + col
        if n_texts * self.n_features < 2**31:
            keys = keys.astype(np.int32)  # sorts twice as fast
        keys, entry = _unique(keys)
        count = np.rint(np.bincount(entry, share, minlength=len(keys)))
        row, col_u = (a.astype(np.int64) for a in np.divmod(keys, self.n_features))
        value = (1.0 + np.log(count)) * self.idf[col_u]  # sublinear tf, checked at load
        slot = row * 2 + self.block_of_col[col_u]
        norms = np.sqrt(np.bincount(slot, value * value, minlength=n_texts * 2))
        value /= norms[slot]
        return Features(n_texts, row, col_u, value, entry, word, share, count, word_start)

    def _occurrences(self, batch: _Batch, words: int) -> tuple[IntArray, IntArray, FloatArray]:
        """Columns, words and shares of every occurrence: a bigram is two half occurrences."""
        char_col, char_word = self.chars.find(batch.words)
        uni_col = np.frombuffer(b"".join(batch.chunks), dtype=np.int32).astype(np.int64)
        uni_word = np.repeat(np.arange(words, dtype=np.int64), batch.per_word)
        known = uni_col >= 0
        cols = [char_col, uni_col[known]]
        owners = [char_word, uni_word[known]]
        single = len(char_col) + int(known.sum())
        pairs = 0
        if self._bigrams is not None and batch.bigrams:
            found = np.fromiter(map(self._bigrams.get, batch.bigrams, repeat(-1)), np.int64)
            keep = found >= 0
            pairs = int(keep.sum())
            cols += [found[keep], found[keep]]
            owners += [
                np.asarray(batch.bigram_first, dtype=np.int64)[keep],
                np.asarray(batch.bigram_second, dtype=np.int64)[keep],
            ]
        share = np.concatenate([np.ones(single), np.full(2 * pairs, 0.5)])
        return np.concatenate(cols), np.concatenate(owners), share


def _unique(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], IntArray]:
    """``np.unique(keys, return_inverse=True)``, with the faster unstable sort (order of equal
    keys does not matter here)."""
    order = np.argsort(keys)
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _tokens(pattern: re.Pattern[str], word: str) -> tuple[str, ...]:
    """Word tokens of a whitespace word; an all-alphanumeric word is its own token when the
    pattern is the default (2+ word characters), without running the regex."""
    if pattern.pattern == DEFAULT_TOKEN_PATTERN and word.isalnum():
        return (word,) if len(word) >= 2 else ()
    return tuple(pattern.findall(word))


def _blocks(
    specs: list[dict[str, Any]], arrays: dict[str, npt.NDArray[Any]]
) -> tuple[WordBlock, CharNgramIndex, list[int]]:
    """The word and char_wb vectorisers, in the column order of the npz."""
    if [spec["analyzer"] for spec in specs] != ["word", "char_wb"]:
        raise PluginError("sentiment model: expected a word then a char_wb vectoriser")
    for spec in specs:
        if not (spec["lowercase"] and spec["sublinear_tf"] and spec["norm"] == "l2"):
            raise PluginError("sentiment model: only lowercase, sublinear tf and l2 are supported")
    if tuple(specs[0]["ngram_range"]) not in ((1, 1), (1, 2)):
        raise PluginError("sentiment model: word n-grams must be (1, 1) or (1, 2)")
    words, chars = (
        bytes(arrays[f"vocab{i}"]).decode("utf-8").split(VOCAB_SEPARATOR) for i in (0, 1)
    )
    vocabulary = {term: j for j, term in enumerate(words)}
    pattern = re.compile(specs[0]["token_pattern"])
    word_block = WordBlock(tuple(specs[0]["ngram_range"]), vocabulary, pattern)
    try:
        char_index = CharNgramIndex(chars, len(words), tuple(specs[1]["ngram_range"]))
    except ValueError as exc:
        raise PluginError(f"sentiment model: {exc}") from None
    return word_block, char_index, [len(words), len(chars)]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(language: str, directory: Path = MODELS_DIR) -> LinearModel:
    """Load ``<language>.json`` and its ``.npz``; refuse an npz whose SHA-256 differs."""
    config_path = directory / f"{language}.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        npz_path = directory / config["artifact"]["file"]
        digest = sha256_file(npz_path)
    except (OSError, ValueError, KeyError) as exc:
        raise PluginError(f"sentiment model {config_path} cannot be read: {exc}") from exc
    if digest != config["artifact"]["sha256"]:
        raise PluginError(
            f"sentiment model {npz_path.name}: SHA-256 {digest} does not match the recorded "
            f"{config['artifact']['sha256']} (re-run `make train-sentiment`)"
        )
    with np.load(npz_path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return LinearModel(config, arrays)


# -- retrained versions (``kuulo sentiment retrain``) ---------------------------------------------

POINTER = "active.json"  # in [sentiment] model_dir: {"en": "<folder>", ...}
VERSION_NAME = re.compile(r"^[a-z]{2,3}-[0-9a-f]{8}-[0-9a-f]{8}$")


def active_names(model_dir: Path) -> dict[str, str]:
    """Language -> the retrained version folder the pointer activates (``{}``: no pointer)."""
    path = model_dir / POINTER
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PluginError(f"sentiment model pointer {path} cannot be read: {exc}") from None
    if not isinstance(found, dict) or not all(
        isinstance(v, str) and VERSION_NAME.match(v) for v in found.values()
    ):
        raise PluginError(
            f"sentiment model pointer {path}: expected {{language: version folder}}; fix or "
            "delete it (`kuulo sentiment retrain --deactivate --language LANG`)"
        )
    return {str(k): v for k, v in found.items()}


def load_active(language: str, model_dir: Path) -> LinearModel:
    """The retrained version the pointer names for ``language``, else the shipped model;
    either way loaded, and refused on a SHA-256 mismatch, by :func:`load`."""
    name = active_names(model_dir).get(language)
    return load(language) if name is None else load(language, model_dir / name)
