"""Cutting a mention into the pieces a scorer reads: shared by every scorer in this folder.

Scorers are trained on (and VADER was built for) sentence- and tweet-sized text. A long review
scored as one piece is dominated by its length; scored per sentence, each sentence is in the
range the model knows, and a single clearly negative sentence can be found and quoted. Both
scorers cut the text at ``max_chars`` first: the cost of a mention must stay bounded.
"""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MAX_SENTENCE_CHARS = 600
"""A sentence longer than this (a run-on post without punctuation) is cut: VADER's cost grows
faster than linearly with length, and the trained models never saw such long units."""

SHORT_TEXT_CHARS = 300
"""Texts up to this length are scored whole, as the training data were (tweets, comments,
forum sentences; 99% of the development rows are shorter). Longer ones are scored per sentence."""


def split_sentences(text: str) -> list[str]:
    """Non-empty sentences (split after . ! ? …), each cut at :data:`MAX_SENTENCE_CHARS`."""
    parts = (p.strip() for p in SENTENCE_END.split(text))
    return [p[:MAX_SENTENCE_CHARS] for p in parts if p]


def scoring_units(text: str, max_chars: int) -> list[str]:
    """The pieces of a mention the trained scorer reads: the text itself when short, else its
    sentences; always at least one piece (an empty text is one empty piece)."""
    text = text[:max_chars].strip()
    if len(text) <= SHORT_TEXT_CHARS:
        return [text]
    return split_sentences(text) or [text[:MAX_SENTENCE_CHARS]]
