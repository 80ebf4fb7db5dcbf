"""Finds plug-ins through entry points, so the spine never imports the plug-in folders.

Built-ins register exactly like third-party plug-ins (``pyproject.toml``); a kind that is not
registered, or a plug-in that fails to import, is a loud :class:`PluginError` naming it.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from kuulo.errors import PluginError

COLLECTORS = "kuulo.collectors"
SCORERS = "kuulo.scorers"
CHANNELS = "kuulo.channels"
TRAINERS = "kuulo.trainers"  # a scorer's trainer, under the scorer's name


@cache
def available(group: str) -> tuple[str, ...]:
    """The names registered in an entry-point group, sorted."""
    return tuple(sorted({ep.name for ep in entry_points(group=group)}))


@cache
def load(group: str, name: str) -> Any:
    """Load the plug-in class registered as ``name`` in ``group``."""
    matches = [ep for ep in entry_points(group=group) if ep.name == name]
    if not matches:
        known = ", ".join(available(group)) or "none"
        raise PluginError(f"no {group} plug-in named {name!r} (available: {known})")
    try:
        return matches[0].load()
    except Exception as exc:  # an import failure in a plug-in must name the plug-in
        raise PluginError(f"plug-in {name!r} ({matches[0].value}) failed to load: {exc}") from exc
