"""Top terms and phrases of a set of mentions (the Overview's "what are the negatives about").

Pure and small on purpose: counted per mention (a word repeated in one rant counts once), over
the newest few hundred mentions the caller passes, in English and Finnish. Stop words, numbers,
links, @handles and the brand's own query terms are left out, since they say nothing about
*what* people complain of. A two-word phrase is kept when at least two mentions share it, and
then stands in for its words where it covers most of their mentions ("still no bag" rather than
"bag" and "still").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

MIN_MENTIONS = 2  # a term in one mention only is an anecdote, not a theme
PHRASE_COVERS = 0.6  # a phrase replaces its word when it holds this share of the word's mentions

_TOKEN = re.compile(r"[^\W\d_][\w'\u2019-]*[^\W_]|[^\W\d_]", re.UNICODE)
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")

_ENGLISH = """a about after again all also am an and any are as at back be because been before being
    but by can could did do does doing don't done for from get gets got had has have having he
    her here hers him his how i i'm if in into is it it's its just let me more most my no nor not
    now of off on once one only or other our out over own really same she should so some still
    such than that that's the their them then there these they this those through to too up us
    very via was we were what when where which while who why will with would you your you're
    i've i'll can't won't didn't doesn't isn't wasn't aren't haven't hasn't ve ll re
    amp rt lol omg pls please thanks thank today yesterday day days time even much many
"""
_FINNISH = """ja on ei se että oli ole olla olen olet ovat mutta kun jos niin tai sekä myös vain nyt
    jo vielä sitten koska kuin mitä mikä joka jotka tämä tuo nämä ne he hän minä sinä me te
    mun sun mä sä meidän teidän heidän sen sitä siitä siihen sillä tässä täällä siellä tänään
    eikä en et emme ette eivät ollut olisi oisi voi voisi pitää pitäisi kanssa kaikki mitään
    jotain joku aina taas ihan tosi todella nyt kyllä no niin vaan vaikka ehkä enää yhtään
"""
STOP_WORDS = frozenset(_ENGLISH.split()) | frozenset(_FINNISH.split())


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    mentions: int  # how many of the given mentions contain it


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` without links, handles and hashtags."""
    return [t.lower().replace("\u2019", "'") for t in _TOKEN.findall(_NOISE.sub(" ", text))]


def top_terms(texts: Iterable[str], *, exclude: Iterable[str] = (), limit: int = 15) -> list[Term]:
    """The ``limit`` words and two-word phrases found in the most of ``texts``."""
    skip = STOP_WORDS | {w for e in exclude for w in tokens(e)}
    words: Counter[str] = Counter()
    phrases: Counter[str] = Counter()
    for text in texts:
        found = [t for t in tokens(text) if len(t) > 1]
        words.update({t for t in found if t not in skip})
        phrases.update({f"{a} {b}" for a, b in pairwise(found) if _phrase(a, b, skip)})
    chosen = {p: n for p, n in phrases.items() if n >= MIN_MENTIONS}
    covered = {
        w for p, n in chosen.items() for w in p.split() if n >= PHRASE_COVERS * words.get(w, n)
    }
    ranked = [Term(w, n) for w, n in words.items() if n >= MIN_MENTIONS and w not in covered]
    ranked += [Term(p, n) for p, n in chosen.items()]
    ranked.sort(key=lambda t: (-t.mentions, -len(t.term.split()), t.term))
    return ranked[:limit]


def _phrase(first: str, second: str, skip: frozenset[str] | set[str]) -> bool:
    """A phrase worth showing: neither end is a stop word or brand term, and "no"/"not"/"ei"
    may open one ("no refund", "ei toimi"), because the negation is the point."""
    negation = first in {"no", "not", "never", "ei", "eikä"}
    return (negation or first not in skip) and second not in skip and first != second
