"""Brands, sources and alert rules created in the dashboard, merged with the config file's.

The database (``kuulo/store/catalog.py``) holds each dashboard item as the same mapping a
``[[brands]]``, ``[[sources]]`` or ``[[rules]]`` table holds, so the config file's pydantic models
validate both. :func:`merged_settings` is the one place the two meet: the pipeline, the alerting,
``kuulo status`` / ``config check`` and the dashboard all use the merged set it returns.

Config items are read-only here (the file is their source of truth); a config *source or rule*
may still be paused, through an override row with an empty body. A database item that stopped
validating (a brand it names was deleted, a plug-in was removed) is left out and reported: it never
stops the service. Feed URLs are checked against SSRF when saved (:func:`check_feed_url`, with a
DNS lookup) and again on every connection (``kuulo.http.make_session(guard=True)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from kuulo.catalog_checks import (
    MIN_EVERY,
    MODELS,
    FieldError,
    check_body,
    env_reference_errors,
    name_taken,
    names_of,
    read_only,
    still_used,
    taken,
    unique,
    url_problem,
    without,
)
from kuulo.settings import BrandSettings, Settings, SourceSettings, resolve_env_references
from kuulo.settings_alerts import RuleSettings
from kuulo.settings_errors import Problem
from kuulo.store import open_store
from kuulo.store.catalog import KINDS, CatalogItem, CatalogKind, CatalogStore

__all__ = [
    "MIN_EVERY",
    "CatalogItem",
    "CatalogKind",
    "FieldError",
    "check_feed_url",
    "config_only",
    "item_origin",
    "load_merged",
    "merged_settings",
    "references_to",
    "validate_item",
]

# -- public API ----------------------------------------------------------------------------------


def validate_item(
    settings: Settings,
    store: CatalogStore,
    kind: CatalogKind,
    body: dict[str, Any],
    *,
    editing: str | None = None,
) -> list[FieldError]:
    """Errors for a brand/source/rule the dashboard wants to save (empty: it may be saved).

    The same pydantic models as the config file; names unique across config + database
    (``editing`` is the item's current name when an existing item is edited); brand queries
    parse; a source's plug-in Config validates; references (brands, sources, channels) exist in
    the merged set; feed URLs pass :func:`check_feed_url` (with a DNS lookup) unless
    ``[dashboard] allow_private_feed_hosts``. Nothing is saved here.
    """
    if kind not in KINDS:
        return [FieldError("", f"Unknown kind of item {kind!r}.")]
    if not isinstance(body, dict):
        return [FieldError("", "The form was empty.")]
    base = config_only(settings)
    if editing is not None and item_origin(base, kind, editing) == "config":
        return [FieldError("", read_only(kind, editing))]
    merged, _ = merged_settings(base, store)
    context = without(merged, kind, editing) if editing is not None else merged
    name = body.get("name")
    errors: list[FieldError] = []
    if isinstance(name, str) and name != editing:
        errors += name_taken(base, store, kind, name)
        if editing is not None and (users := references_to(merged, kind, editing)):
            errors.append(FieldError("name", still_used(kind, editing, users)))
    errors += check_body(context, kind, body, urls="resolve")
    return unique(errors)


def merged_settings(settings: Settings, store: CatalogStore) -> tuple[Settings, list[Problem]]:
    """The config file's settings plus the database items, as one :class:`Settings`.

    Database items are listed in ``dashboard_items`` (their origin is "dashboard"). One that no
    longer validates is left out and reported as a :class:`Problem` (table
    ``database: source 'x'``), never raised. A paused source or rule (database item, or a config
    item with a pause override) gets ``enabled = False``: paused sources are not collected,
    paused rules do not alert. Brands cannot be paused (an override row for one is ignored).
    Passing already merged settings is fine: their database items are replaced, not doubled.
    """
    base = config_only(settings)
    items = store.catalog_items()
    paused: set[tuple[str, str]] = {
        (i.kind, i.name) for i in items if i.paused and i.kind != "brand"
    }
    stored = [i for i in items if not i.is_override]
    accepted = list(stored)
    failed: dict[tuple[CatalogKind, str], list[FieldError]] = {}
    while True:  # dropping one item can break another that refers to it: repeat until stable
        merged = _compose(base, accepted, paused)
        found = {
            (i.kind, i.name): errors
            for i in accepted
            if (errors := _stored_item_errors(base, merged, i))
        }
        if not found:
            break
        failed |= found
        accepted = [i for i in accepted if (i.kind, i.name) not in found]
    problems = [
        Problem(f"database: {kind} {name!r}", e.field or None, e.message)
        for (kind, name), errors in sorted(failed.items())
        for e in errors
    ]
    return merged, problems


def item_origin(
    settings: Settings, kind: CatalogKind, name: str
) -> Literal["config", "dashboard"] | None:
    """Where an item of the (merged) settings comes from; ``None``: no such item."""
    if (kind, name) in settings.dashboard_items:
        return "dashboard"
    return "config" if name in names_of(settings, kind) else None


def check_feed_url(url: str, *, allow_private: bool) -> str | None:
    """``None`` when ``url`` may be saved as a feed address, else the reason, in plain words.

    http(s) only, no user name or password, and (unless ``allow_private``) a host that resolves
    only to public addresses: no loopback, private, link-local (cloud metadata), multicast or
    reserved ones. Collection checks again on every connection and redirect, since DNS answers
    can change after saving.
    """
    return url_problem(url, allow_private=allow_private, resolve=True)


def references_to(settings: Settings, kind: CatalogKind, name: str) -> list[str]:
    """The items that name ``name`` (a brand or source), e.g. before renaming or deleting it."""
    users: list[str] = []
    if kind == "brand":
        users += [f"brand {b.name!r}" for b in settings.brands if name in b.competitors]
        users += [f"source {s.name!r}" for s in settings.sources if name in (s.brands or ())]
        users += [f"alert rule {r.name!r}" for r in settings.rules if name in (r.brands or ())]
    elif kind == "source":
        users += [f"alert rule {r.name!r}" for r in settings.rules if name in (r.sources or ())]
    return users


def load_merged(settings: Settings) -> tuple[Settings, list[Problem]]:
    """:func:`merged_settings` with the database of ``settings`` opened read-only.

    No database yet (or one older than the catalog table): the config file's settings alone.
    """
    path = settings.database_path()
    if not path.exists():
        return settings, []
    try:
        with open_store(path, read_only=True) as store:
            return merged_settings(settings, store)
    except sqlite3.OperationalError:  # not migrated yet: nothing was created in the dashboard
        return config_only(settings), []


def config_only(settings: Settings) -> Settings:
    """``settings`` without its database items (the config file's part of a merged set).

    Pause overrides of config items are not undone: merge the settings as loaded from the file.
    """
    if not settings.dashboard_items and not settings.paused_items:
        return settings
    own = settings.dashboard_items
    return settings.model_copy(
        update={
            "brands": tuple(b for b in settings.brands if ("brand", b.name) not in own),
            "sources": tuple(s for s in settings.sources if ("source", s.name) not in own),
            "rules": tuple(r for r in settings.rules if ("rule", r.name) not in own),
            "dashboard_items": frozenset(),
            "paused_items": frozenset(),
        }
    )


# -- merging -------------------------------------------------------------------------------------


def _compose(
    base: Settings, items: Sequence[CatalogItem], paused: set[tuple[str, str]]
) -> Settings:
    """Config items (pause overrides applied) followed by the database items that parse."""
    brands = list(base.brands)
    sources = [_paused(s, ("source", s.name) in paused) for s in base.sources]
    rules = [_paused(r, ("rule", r.name) in paused) for r in base.rules]
    own: set[tuple[str, str]] = set()
    for item in items:
        model = _parse(item.kind, _body(item))
        if model is None:
            continue  # reported by _stored_item_errors
        own.add((item.kind, item.name))
        if isinstance(model, BrandSettings):
            brands.append(model)
        elif isinstance(model, SourceSettings):
            sources.append(_paused(model, item.paused))
        elif isinstance(model, RuleSettings):
            rules.append(_paused(model, item.paused))
    return base.model_copy(
        update={
            "brands": tuple(brands),
            "sources": tuple(sources),
            "rules": tuple(rules),
            "dashboard_items": frozenset(own),
            "paused_items": frozenset(paused),
        }
    )


_M = TypeVar("_M", bound=BaseModel)


def _paused(model: _M, paused: bool) -> _M:
    return model.model_copy(update={"enabled": False}) if paused else model


def _parse(kind: CatalogKind, body: dict[str, Any]) -> BaseModel | None:
    model = MODELS[kind]
    if env_reference_errors(body):
        return None
    try:
        return model.model_validate(resolve_env_references(body))
    except ValidationError:
        return None


def _body(item: CatalogItem) -> dict[str, Any]:
    """The stored mapping, with the row's name (the key the dashboard renames) winning."""
    return {**item.body, "name": item.name}


def _stored_item_errors(base: Settings, merged: Settings, item: CatalogItem) -> list[FieldError]:
    """A stored item against the merged set. Addresses are not checked here (no DNS lookups on
    every reload): the guarded session refuses internal ones on each connection, and says so
    in the source's run log."""
    if item.name in names_of(base, item.kind):
        return [FieldError("name", taken(item.kind, item.name, "configuration file"))]
    return check_body(merged, item.kind, _body(item), urls="shape")
