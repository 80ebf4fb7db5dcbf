"""The plug-in API: what a collector and a scorer look like to the spine.

Plug-ins live in the top-level ``collectors/`` and ``sentiment/`` folders, are registered as entry
points in ``pyproject.toml`` and import only from ``kuulo``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from kuulo.model import Batch, Cursor, Score, ScoreInput

if TYPE_CHECKING:
    import requests

    from kuulo.alert_model import AlertMessage
    from kuulo.matching import Brand
    from kuulo.settings import HttpSettings
    from kuulo.settings_alerts import ChannelSettings


class PluginConfig(BaseModel):
    """Base for each plug-in's own settings: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class CollectorContext:
    """What the spine hands a collector: its name, its brands, HTTP and a clock."""

    source_name: str
    brands: Sequence[Brand]
    http: HttpSettings
    session_factory: Callable[[], requests.Session]
    now: Callable[[], datetime]
    logger: logging.Logger


class Collector(Protocol):
    """A source kind. It may also set ``credential_help: ClassVar[str]``: where to get the
    credentials it needs, shown when a missing secret disables a source of that kind."""

    kind: ClassVar[str]
    Config: ClassVar[type[PluginConfig]]

    def __init__(self, config: PluginConfig, ctx: CollectorContext) -> None: ...

    def collect(self, cursor: Cursor | None) -> Iterable[Batch]:
        """Yield pages of mentions newer than ``cursor``; bounded, never streams forever.

        Each batch is stored (with its cursor) before the next is requested. Raises
        :class:`kuulo.errors.CollectorError` when a fetch or parse fails.
        """
        ...


class Scorer(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]  # bump it and `kuulo rescore` re-scores everything

    def score(self, items: Sequence[ScoreInput]) -> list[Score]:
        """Score a batch; one Score per input, in order."""
        ...


@dataclass(frozen=True)
class ChannelContext:
    """What the spine hands an alert channel: its name, a clock and a logger."""

    name: str
    now: Callable[[], datetime]
    logger: logging.Logger


class AlertChannel(Protocol):
    """An alert channel kind (entry point group ``kuulo.channels``).

    A channel has one or more targets (for ``apprise``: its URLs); the outbox keeps one row per
    alert and target, so a retry never re-sends to a target that already accepted the message.
    """

    kind: ClassVar[str]

    def __init__(self, settings: ChannelSettings, ctx: ChannelContext) -> None: ...

    @property
    def targets(self) -> int:
        """How many targets (URLs) this channel sends to."""
        ...

    def describe(self, target: int) -> str:
        """The target in words, with every secret masked (safe for logs and the CLI)."""
        ...

    def send(self, message: AlertMessage, target: int) -> None:
        """Deliver once, or raise :class:`kuulo.errors.AlertError` saying whether to retry."""
        ...
