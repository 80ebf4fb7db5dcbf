"""The data model shared by every stage: what collectors yield and what the store keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SentimentLabel = Literal["negative", "neutral", "positive", "unscored"]
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive", "unscored")

Cursor = dict[str, Any]
"""A source's resume point (since_id, ETag/Last-Modified, newest timestamp); JSON-serialisable."""


@dataclass(frozen=True, slots=True)
class Mention:
    """One item as a collector saw it, before normalisation.

    ``native_id`` is the upstream id (guid, tweet id, fullname); together with the configured
    source name it forms the natural key ``source_name:native_id``. ``published_at`` is
    tz-aware UTC or ``None`` when the source gave no usable date.
    """

    source: str  # the collector kind, e.g. "rss"
    source_name: str  # the configured source instance, e.g. "acme-news"
    native_id: str
    url: str
    text: str  # as received; may contain HTML
    title: str | None = None
    published_at: datetime | None = None
    author_name: str | None = None
    author_handle: str | None = None
    author_followers: int | None = None
    language: str | None = None  # when the source states it (tweet lang, feed language)
    likes: int | None = None
    replies: int | None = None
    reposts: int | None = None
    quotes: int | None = None
    rating: float | None = None  # review stars, when the source has them
    parent_id: str | None = None
    thread_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.source_name}:{self.native_id}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a collector could not turn into a Mention, and why."""

    reason: str
    native_id: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One page of results and the cursor that is safe to save once the page is stored.

    ``cursor is None`` keeps the stored cursor (used for intermediate pages of one poll).
    ``not_modified`` means the upstream answered 304: nothing new, the cursor stays.
    """

    mentions: Sequence[Mention]
    cursor: Cursor | None = None
    skipped: Sequence[Skipped] = ()
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class ScoreInput:
    text: str
    language: str | None = None
    rating: float | None = None  # review stars on a 5-point scale, when the source has them
    # A brand's calibrated cut on P(negative) (``kuulo sentiment calibrate``): a scorer that
    # reports ``Score.p_negative`` decides the text negative iff P(negative) >= this. None: its own.
    negative_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Score:
    label: SentimentLabel
    score: float | None  # the model's signed score in [-1, 1]; None when unscored
    model: str
    version: str
    reason: str | None = None  # why, in words (e.g. 'flagged negative because: "still no bag"')
    confidence: float | None = None  # the scorer's belief in the label, 0-1; None when unscored
    p_negative: float | None = None  # the text's P(negative), what calibration cuts; None: none
