"""One exception tree for kuulo.

Every error a user can see derives from :class:`KuuloError`. Collector and channel errors carry
``permanent`` (retrying cannot help) and ``retry_after`` (seconds to wait), so one scheduler
decides what happens next instead of branching on exception types.
"""

from __future__ import annotations


class KuuloError(Exception):
    """Root of every kuulo error."""


class ConfigError(KuuloError, ValueError):
    """The configuration is invalid; the message names the file, table and key."""


class QueryError(ConfigError):
    """A brand query could not be parsed or compiled."""


class PluginError(KuuloError):
    """A plug-in (collector, scorer, channel) could not be found or loaded."""


class StoreError(KuuloError):
    """The database refused an operation."""


class CollectorError(KuuloError):
    """A collector could not fetch or parse what it was asked for.

    ``permanent``: retrying the same request cannot succeed (bad URL, 404, auth).
    ``retry_after``: seconds the source asked us to wait (Retry-After, rate-limit reset).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class FetchError(CollectorError):
    """The HTTP request failed (connection, timeout, status, size cap)."""


class FeedParseError(CollectorError):
    """The body is not a usable feed (HTML page, truncated XML, DOCTYPE/ENTITY)."""


class RateLimited(CollectorError):
    """The upstream said to slow down; ``retry_after`` says for how long."""


class AlertError(KuuloError):
    """A channel could not deliver an alert message.

    ``permanent``: sending the same message again cannot succeed (SMTP 5xx, HTTP 400/404);
    the alerts are dead-lettered after this one attempt. ``broken``: the channel itself is
    misconfigured or its credentials were refused (HTTP 401/403, SMTP 535): dead-letter and
    mark the channel broken. ``ambiguous``: the connection dropped after the message went out,
    so it may have arrived (RFC 1047); retried, so at most one duplicate. ``retry_after``:
    seconds the service asked us to wait. The message never contains a channel URL.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        broken: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or broken
        self.broken = broken
        self.ambiguous = ambiguous
        self.retry_after = retry_after
