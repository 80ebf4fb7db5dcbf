"""Turning a claimed outbox group into one :class:`~kuulo.alert_model.AlertMessage`.

A group may hold one alert or thousands (a viral thread): the message carries the count, the
top items (largest reach first, then the most negative score) and the alert keys (capped).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kuulo.alert_model import AlertItem, AlertMessage
from kuulo.clock import from_iso
from kuulo.store.outbox import Claim, OutboxStore

MAX_MESSAGE_KEYS = 1000


def build_message(
    store: OutboxStore,
    claim: Claim,
    *,
    top: int,
    timezone: str,
    digest: bool,
    now: datetime,
) -> AlertMessage:
    """The message for a claim: its rows' top items, count and keys, read from the store."""
    rows = store.claimed_items(claim.token, top)
    keys = tuple(store.claimed_keys(claim.token, MAX_MESSAGE_KEYS))
    items = tuple(item for row in rows if (item := _item(row)) is not None)
    payload = _payload(rows, claim.count)
    key = keys[0] if claim.count == 1 and keys else f"{claim.group_key}#{claim.first_id}"
    return AlertMessage(
        key=key,
        kind=claim.kind,  # type: ignore[arg-type]  # the store only holds AlertKind values
        rule=claim.rule,
        channel=claim.channel,
        title=" ".join((payload.get("title") or _title(claim, items, digest)).split()),
        count=claim.count,
        created_at=now,
        timezone=timezone,
        items=items,
        alert_keys=keys,
        summary=payload.get("summary"),
        digest=digest,
        details={k: v for k, v in payload.items() if k not in ("title", "summary")},
    )


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach a message: no ``javascript:``, ``data:`` or ``file:``."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()


def _item(row: dict[str, Any]) -> AlertItem | None:
    if row["kind"] != "mention" or row["text"] is None:
        return None  # spike / health alerts carry a payload instead of a mention
    author = row["author_name"] or row["author_handle"]
    return AlertItem(
        alert_key=row["alert_key"],
        source_name=row["source_name"],
        source_kind=row["source"],
        text=row["text"],
        published_at=from_iso(row["ts"]),
        brand=row["brand"],
        title=row["title"],
        author=author,
        reach=row["author_followers"],
        rating=row["rating"],
        url=safe_url(row["url"]),
        sentiment=row["sentiment"],
        score=row["sentiment_score"],
        reason=row["sentiment_reason"],
    )


def _payload(rows: Sequence[dict[str, Any]], count: int) -> dict[str, str]:
    """Spike/health rows carry their text: one is shown as is, several as a list of titles."""
    payloads = [
        {str(k): str(v) for k, v in json.loads(row["payload"]).items()}
        for row in rows
        if row["kind"] != "mention" and row["payload"]
    ]
    if len(payloads) <= 1 or count == 1:
        return payloads[0] if payloads else {}
    titles = [p.get("title", "") for p in payloads]
    more = f"\n...and {count - len(payloads)} more." if count > len(payloads) else ""
    return {
        "title": f"kuulo: {count} {rows[0]['kind']} alerts",
        "summary": "\n".join(titles) + more,
    }


def _title(claim: Claim, items: Sequence[AlertItem], digest: bool) -> str:
    labels = {i.sentiment for i in items if i.sentiment}
    label = f"{labels.pop()} " if len(labels) == 1 else ""
    brands = {i.brand for i in items if i.brand}
    who = brands.pop() if len(brands) == 1 else claim.rule
    if digest:
        return f"{who}: {claim.count} {label}mention(s) in the {claim.rule} digest"
    if claim.count == 1 and items:
        item = items[0]
        by = f" by {item.author}" if item.author else ""
        return f"{who}: {label}mention on {item.source_name}{by}"
    return f"{who}: {claim.count} {label}mentions ({claim.rule})"
