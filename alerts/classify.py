"""Why a send failed, from apprise's per-attempt log entries and the HTTP answers seen.

The split follows RFC 5321 and Alertmanager (reliability.md F2, F5, F6):

* SMTP 4yz, connection refused/reset, timeouts, HTTP 5xx, 408, 425 and 429: transient, retry.
* SMTP 5yz, HTTP 400/404 and other 4xx: permanent, dead-letter after this one attempt.
* HTTP 401/403 and SMTP 530/534/535 (authentication): the channel is broken.
* The connection dropped after the message was handed over (SMTP ``Connection unexpectedly
  closed`` while sending, an HTTP read timeout): ambiguous; retried, so at most one duplicate.
* A failure apprise gives no reason for: transient (fail open), until the retention horizon.

Error texts are built from codes and short server replies only, then scrubbed of every
fragment of the channel's URLs, so a password or webhook token cannot reach a log or the DB.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from alerts.observe import HttpAnswer
from kuulo.errors import AlertError

_SMTP_EXC = re.compile(r"Socket Exception: \((\d{3}), b?['\"](.{0,200}?)['\"]\)")
_SMTP_REFUSED = re.compile(r"was refused: (\d{3}) b?['\"]?(.{0,200})")
_HTTP_ERROR = re.compile(r"error=(\d{3})")
_RETRY_AFTER_JSON = re.compile(r"\"retry_after\"\s*:\s*([0-9.]+)")
_AUTH_SMTP = {530, 534, 535}
_RETRY_HTTP = {408, 425, 429}
MAX_RETRY_AFTER = 3600.0

log = logging.getLogger("kuulo.alerts")


def classify(
    service: str, messages: Sequence[str], answers: Sequence[HttpAnswer], timed_out: bool
) -> AlertError:
    """The AlertError for a failed send (the caller only calls this on failure)."""
    failed = [a for a in answers if not 200 <= a.status < 300]
    if failed:
        return _http(service, failed[-1].status, failed[-1].retry_after, messages)
    text = "\n".join(messages)
    if m := _HTTP_ERROR.search(text):
        return _http(service, int(m.group(1)), None, messages)
    if m := _SMTP_EXC.search(text) or _SMTP_REFUSED.search(text):
        return _smtp(service, int(m.group(1)), m.group(2))
    if "Connection unexpectedly closed" in text and "Sending email to" in text:
        reason = "connection closed after the message was sent"
        return AlertError(f"{service}: {reason}", ambiguous=True)
    if timed_out or "Read timed out" in text:
        return AlertError(f"{service}: timed out waiting for the answer", ambiguous=True)
    return AlertError(f"{service}: {_connection_reason(text)}")


def _http(service: str, status: int, header: str | None, messages: Sequence[str]) -> AlertError:
    what = f"{service}: HTTP {status}"
    if status in (401, 403):
        return AlertError(f"{what} (credentials refused: check the channel URL)", broken=True)
    if status == 429:
        wait = parse_retry_after(header) or _json_retry_after(messages)
        return AlertError(f"{what} (rate limited)", retry_after=wait)
    if status >= 500 or status in _RETRY_HTTP:
        return AlertError(f"{what} (server error, will retry)")
    return AlertError(f"{what} (rejected, not retried)", permanent=True)


def _smtp(service: str, code: int, reply: str) -> AlertError:
    what = f"{service}: SMTP {code} {reply}".strip()
    if code in _AUTH_SMTP:
        return AlertError(f"{what} (login refused: check the channel URL)", broken=True)
    if 400 <= code < 500:
        return AlertError(what)
    return AlertError(what, permanent=code >= 500)


def _connection_reason(text: str) -> str:
    lowered = text.lower()
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("timed out", "connection timed out"),
        ("name or service not known", "host name not found"),
        ("connection reset", "connection reset"),
        ("connection error", "connection failed"),
    ):
        if needle in lowered:
            return reason
    return "delivery failed (the service gave no reason)"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delay-seconds or HTTP-date), clamped to [1 s, 1 h].

    Unparsable values give None (the normal backoff applies).
    """
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            log.warning("unparsable Retry-After %r ignored: normal backoff", value[:40])
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return clamp_retry_after(seconds)


def clamp_retry_after(seconds: float) -> float:
    """Absurd waits (negative, more than an hour) are clamped to [1 s, 1 h], and logged."""
    clamped = min(max(seconds, 1.0), MAX_RETRY_AFTER)
    if clamped != seconds:
        log.warning("Retry-After of %.0f s clamped to %.0f s", seconds, clamped)
    return clamped


def _json_retry_after(messages: Iterable[str]) -> float | None:
    """Discord answers 429 with a JSON body holding ``retry_after`` (seconds)."""
    for message in messages:
        if m := _RETRY_AFTER_JSON.search(message.replace("\\", "")):
            return clamp_retry_after(float(m.group(1)))
    return None


def secret_fragments(url: str) -> list[str]:
    """Pieces of a channel URL that may be secret: the URL, its password, tokens in its path
    and query. Longest first, so a fragment is never half-replaced by a shorter one."""
    parts = urlsplit(url)
    found = {url, unquote(url)}
    if parts.password:
        found |= {parts.password, unquote(parts.password)}
    found |= {seg for seg in parts.path.split("/") if len(seg) >= 6}
    found |= {value for _, value in parse_qsl(parts.query) if len(value) >= 6}
    if parts.scheme in ("slack", "discord", "tgram", "msteams", "workflows"):
        found |= {parts.netloc} if len(parts.netloc) >= 6 else set()
    return sorted((f for f in found if f), key=len, reverse=True)


def scrub(text: str, fragments: Iterable[str]) -> str:
    for fragment in fragments:
        text = text.replace(fragment, "***")
    return text
