"""scikit-learn's ``char_wb`` n-grams, found for a whole batch at once with numpy.

Why: cutting every word into 2-5-grams and looking each up in a Python dict costs ~200 ns a
gram (a 30k-term dict and its key strings do not stay in the CPU cache), which made first-seen
words the bulk of the scorer's time. Here each gram is a 64-bit polynomial hash of its code
points, computed for every position of the batch with array arithmetic, and looked up by binary
search in the sorted hashes of the vocabulary (240 kB, cache-resident).

Exactness: the grams are scikit-learn's (``_char_wb_ngrams``: every word of ``text.split()``
padded with one space; for n in the range, all n-grams of a word longer than n; a word of at
most n characters counted once, whole, and no longer n-grams of it). A gram counts as a term
when its hash equals the term's; vocabulary hashes are checked to be distinct at load, so the
only possible error is an unknown gram colliding with a term's 64-bit hash (about 2e-15 per
gram for a 30k vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_BASE = np.uint64(0x100000001B3)  # FNV-64 prime: odd, mixes code points up to 0x10FFFF
_MASK = (1 << 64) - 1
_CHUNK_CHARS = 250_000  # bounds the arrays of one pass (a batch of long reviews)

IntArray = npt.NDArray[np.int64]


def term_hash(term: str) -> int:
    """The hash :meth:`CharNgramIndex.find` computes for a gram, in plain Python."""
    value = 0
    for char in term:
        value = (value * int(_BASE) + ord(char)) & _MASK
    return value


class CharNgramIndex:
    """The char_wb terms of one vectoriser, as sorted hashes and their columns."""

    def __init__(self, terms: Sequence[str], first_column: int, ngram_range: tuple[int, int]):
        hashes = np.fromiter((term_hash(t) for t in terms), dtype=np.uint64, count=len(terms))
        order = np.argsort(hashes)
        self.hashes = hashes[order]
        if len(self.hashes) > 1 and bool((self.hashes[1:] == self.hashes[:-1]).any()):
            raise ValueError("two char n-gram terms share a hash; cannot index this vocabulary")
        self.columns = (order + first_column).astype(np.int64)
        self.lo, self.hi = ngram_range

    def find(self, words: Sequence[str], first_word: int = 0) -> tuple[IntArray, IntArray]:
        """Columns of the known n-grams of ``words`` (lower-cased, whitespace-free) and the
        index (``first_word`` + position) of the word each came from."""
        cols: list[IntArray] = []
        owners: list[IntArray] = []
        start = 0
        while start < len(words):
            end, size = start, 0
            while end < len(words) and (size < _CHUNK_CHARS or end == start):
                size += len(words[end]) + 2
                end += 1
            found = self._find_chunk(words[start:end], first_word + start)
            cols.append(found[0])
            owners.append(found[1])
            start = end
        if not cols:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(cols), np.concatenate(owners)

    def _find_chunk(self, words: Sequence[str], first_word: int) -> tuple[IntArray, IntArray]:
        padded = " " + "  ".join(words) + " "
        raw = padded.encode("utf-32-le", "surrogatepass")
        codes: npt.NDArray[np.uint64] = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter((len(w) + 2 for w in words), dtype=np.int64, count=len(words))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        owner = np.repeat(np.arange(len(words), dtype=np.int64), lengths)
        gram_hashes: list[npt.NDArray[np.uint64]] = []
        positions: list[IntArray] = []
        rolling = codes.copy()  # hash of the n characters starting at each position
        for n in range(1, self.hi + 1):
            if n > 1:
                rolling = rolling[:-1] * _BASE + codes[n - 1 :]
            if n >= self.lo:  # the n-grams inside each word longer than n
                here = owner[: len(rolling)]
                inside = (here == owner[n - 1 :]) & (lengths[here] > n)
                where = np.flatnonzero(inside)
                gram_hashes.append(rolling[where])
                positions.append(where)
            whole = starts[lengths == n]  # a word of n characters: once, whole, and no more
            gram_hashes.append(rolling[whole])
            positions.append(whole)
        found = np.concatenate(gram_hashes)
        return self._lookup(found, owner[np.concatenate(positions)], first_word)

    def _lookup(
        self, grams: npt.NDArray[np.uint64], owners: IntArray, first_word: int
    ) -> tuple[IntArray, IntArray]:
        if len(self.hashes) == 0 or len(grams) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        slot = np.minimum(np.searchsorted(self.hashes, grams), len(self.hashes) - 1)
        known = self.hashes[slot] == grams
        return self.columns[slot[known]], owners[known] + first_word
