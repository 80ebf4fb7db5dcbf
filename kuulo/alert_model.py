"""What the spine hands an alert channel: one message, already grouped, never raw rows.

The delivery stage (``kuulo/delivery.py``) builds these from outbox rows; the channel plug-in
(``alerts/``) only renders and sends them. Plain data: no SQL, no network, no templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

AlertKind = Literal["mention", "spike", "health", "test"]


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One mention inside a message. ``url`` is ``None`` unless it is http(s)."""

    alert_key: str
    source_name: str
    source_kind: str
    text: str
    published_at: datetime  # UTC; channels render it in the message's time zone
    brand: str | None = None
    title: str | None = None
    author: str | None = None
    reach: int | None = None  # the author's followers, when the source says
    rating: float | None = None
    url: str | None = None
    sentiment: str | None = None
    score: float | None = None
    reason: str | None = None  # the scorer's explanation, when it gave one


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One notification: a single alert, or a group (``count`` alerts, ``items`` the top few).

    ``key`` is the message's idempotency key: the alert key for a single alert, else one
    derived from the group. It goes into the email's ``X-Kuulo-Alert-Key`` header, webhook
    bodies and log lines, so a sink can count duplicates. ``alert_keys`` lists the alerts it
    carries (capped by the sender). ``title`` is plain text; channels make it header-safe.
    """

    key: str
    kind: AlertKind
    rule: str
    channel: str
    title: str
    count: int
    created_at: datetime
    timezone: str = "UTC"
    items: tuple[AlertItem, ...] = ()
    alert_keys: tuple[str, ...] = ()
    summary: str | None = None  # spike / health / test messages: what happened, in words
    digest: bool = False
    details: dict[str, str] = field(default_factory=dict)  # label -> value, shown as a table

    @property
    def more(self) -> int:
        """Alerts counted but not listed (a burst shows the top items only)."""
        return max(self.count - len(self.items), 0) if self.items else 0


@dataclass(frozen=True, slots=True)
class MentionFacts:
    """What rules look at: a scored mention's stored fields (``kuulo/rules.py`` decides)."""

    id: str
    version: int
    source_name: str
    brands: tuple[str, ...]
    text: str
    published_at: datetime  # ``mentions.ts``: published, else collected (UTC)
    title: str | None = None
    language: str | None = None
    reach: int | None = None
    rating: float | None = None


@dataclass(frozen=True, slots=True)
class AlertIntent:
    """A decision to alert one target of one channel; becomes one outbox row.

    ``mention_version`` ties a mention alert to the scored version: the store writes it only
    if that version's score was saved in the same transaction.
    """

    alert_key: str
    rule: str
    channel: str
    target: int
    due_at: datetime
    kind: AlertKind = "mention"
    brand: str | None = None
    mention_id: str | None = None
    mention_version: int | None = None
    payload: dict[str, str] = field(default_factory=dict)

    @property
    def group_key(self) -> str:
        """One message per rule, channel and target (names cannot contain ``/``)."""
        return f"{self.rule}/{self.channel}/{self.target}"
