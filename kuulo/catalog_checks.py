"""Checks of one dashboard item (brand, source, alert rule) and their messages in plain words.

Used by :mod:`kuulo.catalog` both when the dashboard saves an item (full checks, DNS lookup of
feed hosts) and when the database items are merged into the settings (no DNS lookups). Input
values are never echoed in a message: a field may hold a token typed in the wrong place.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kuulo import registry
from kuulo.errors import PluginError, QueryError
from kuulo.http import is_blocked_address
from kuulo.settings import BrandSettings, Settings, SourceSettings, resolve_env_references
from kuulo.settings_alerts import RuleSettings
from kuulo.store.catalog import CatalogKind, CatalogStore

MIN_EVERY = timedelta(minutes=1)
"""Sources added in the dashboard are polled at most once a minute."""

MODELS: dict[CatalogKind, type[BaseModel]] = {
    "brand": BrandSettings,
    "source": SourceSettings,
    "rule": RuleSettings,
}
LABELS: dict[CatalogKind, str] = {"brand": "brand", "source": "source", "rule": "alert rule"}
ENV_NAME = re.compile(r"KUULO_[A-Z0-9_]+")
ENV_RULE = (
    "Name an environment variable of the kuulo service that starts with KUULO_ (for example"
    " KUULO_REDDIT_CLIENT_SECRET); the secret itself is never stored in the database."
)
_NAME_RULE = "Use only letters, digits, '.', '_' and '-', starting with a letter or digit."


@dataclass(frozen=True)
class FieldError:
    """A problem with one field of a dashboard form ("" = the item as a whole)."""

    field: str
    message: str


# -- checks --------------------------------------------------------------------------------------


UrlCheck = Literal["resolve", "shape"]
"""``resolve``: the full save-time check (DNS lookup); ``shape``: scheme, host, no userinfo."""


def check_body(
    context: Settings, kind: CatalogKind, body: dict[str, Any], *, urls: UrlCheck
) -> list[FieldError]:
    """Model, query, plug-in and reference checks of one item against ``context``."""
    if errors := env_reference_errors(body):
        return errors
    try:
        parsed = MODELS[kind].model_validate(resolve_env_references(body))
    except ValidationError as exc:
        return _from_validation(exc)
    if isinstance(parsed, BrandSettings):
        return _check_brand(context, parsed)
    if isinstance(parsed, SourceSettings):
        allow = context.dashboard.allow_private_feed_hosts
        return _check_source(context, parsed, allow_private=allow, urls=urls)
    if isinstance(parsed, RuleSettings):
        return _check_rule(context, parsed)
    raise TypeError(f"unexpected catalog model {type(parsed).__name__}")


def env_reference_errors(body: dict[str, Any]) -> list[FieldError]:
    """Secrets of a dashboard item name an environment variable, and only a ``KUULO_`` one:
    an admin of the dashboard must not be able to send any variable of the server's
    environment (a cloud key, say) to a host of their choosing."""
    errors = []
    for key, value in body.items():
        if isinstance(value, dict) and set(value) == {"$file"}:
            errors.append(FieldError(key, "Secret files can only be named in the config file."))
        elif isinstance(value, dict) and set(value) == {"$env"}:
            name = value["$env"]
            if not (isinstance(name, str) and ENV_NAME.fullmatch(name)):
                errors.append(FieldError(key, ENV_RULE))
    return errors


def _check_brand(context: Settings, brand: BrandSettings) -> list[FieldError]:
    errors = _query_errors("query", brand.query)
    known = {*names_of(context, "brand"), brand.name}
    errors += [
        FieldError("competitors", _missing("brand", c)) for c in brand.competitors if c not in known
    ]
    return errors


def _check_source(
    context: Settings, source: SourceSettings, *, allow_private: bool, urls: UrlCheck
) -> list[FieldError]:
    try:
        collector = registry.load(registry.COLLECTORS, source.kind)
    except PluginError:
        kinds = ", ".join(registry.available(registry.COLLECTORS))
        return [FieldError("kind", f"Unknown source type {source.kind!r} (available: {kinds}).")]
    errors: list[FieldError] = []
    for key, value in source.options.items():
        if isinstance(value, str) and (key == "url" or key.endswith("_url")):
            reason = url_problem(value, allow_private=allow_private, resolve=urls == "resolve")
            if reason:
                errors.append(FieldError(key, reason))
    try:
        collector.Config.model_validate(source.options)
    except ValidationError as exc:  # a URL problem already said in plain words wins
        said = {e.field for e in errors}
        errors += [e for e in _from_validation(exc) if e.field not in said]
    if source.every < MIN_EVERY:
        errors.append(FieldError("every", "Check a source at most once a minute (e.g. 15m)."))
    known = names_of(context, "brand")
    errors += [
        FieldError("brands", _missing("brand", b)) for b in source.brands or () if b not in known
    ]
    return errors


def _check_rule(context: Settings, rule: RuleSettings) -> list[FieldError]:
    channels = [c.name for c in context.channels]
    errors = [
        FieldError(field, _missing(label, name))
        for field, label, wanted, known in (
            ("brands", "brand", rule.brands or (), names_of(context, "brand")),
            ("sources", "source", rule.sources or (), names_of(context, "source")),
            ("channels", "channel", rule.channels, channels),
        )
        for name in wanted
        if name not in known
    ]
    if rule.match is not None:
        errors += _query_errors("match", rule.match)
    return errors


def _query_errors(field: str, query: str) -> list[FieldError]:
    from kuulo.matching import BrandQuery

    try:
        BrandQuery(query)
    except QueryError as exc:
        return [FieldError(field, _sentence(str(exc)))]
    return []


def name_taken(
    base: Settings, store: CatalogStore, kind: CatalogKind, name: str
) -> list[FieldError]:
    if name in names_of(base, kind):
        return [FieldError("name", taken(kind, name, "configuration file"))]
    if any(i.name == name and not i.is_override for i in store.catalog_items(kind)):
        return [FieldError("name", taken(kind, name, "dashboard"))]
    return []


def url_problem(url: str, *, allow_private: bool, resolve: bool) -> str | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "This is not a valid web address."
    if parts.scheme.lower() not in ("http", "https"):
        return "Feed addresses must start with http:// or https://."
    host = parts.hostname
    if not host:
        return "The address has no host name; it should look like https://example.com/feed."
    if parts.username is not None or parts.password is not None:
        return "Leave user names and passwords out of the address."
    if allow_private or not resolve:
        return None
    addresses = _literal_addresses(host)
    if addresses is None:
        try:
            addresses = _resolve(host, port or (443 if parts.scheme == "https" else 80))
        except (OSError, UnicodeError):
            return f"The host {host!r} could not be found; check the address."
    blocked = next((a for a in addresses if is_blocked_address(a)), None)
    if blocked is not None:
        where = host if str(blocked) == host.split("%", 1)[0] else f"{host} ({blocked})"
        return (
            f"{where} is a private or internal address; feeds added here must be on the public"
            " internet (an administrator can allow private hosts)."
        )
    return None


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _literal_addresses(host: str) -> list[Address] | None:
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        return [ipaddress.ip_address("127.0.0.1")] if _is_local_name(host) else None


def _is_local_name(host: str) -> bool:
    """``*.localhost`` names are loopback by definition (RFC 6761), whatever DNS says;
    ``localhost`` itself goes through the resolver like any other name."""
    return host.lower().rstrip(".").endswith(".localhost")


def _resolve(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


# -- helpers -------------------------------------------------------------------------------------


def names_of(settings: Settings, kind: CatalogKind) -> list[str]:
    if kind == "brand":
        return [b.name for b in settings.brands]
    if kind == "source":
        return [s.name for s in settings.sources]
    return [r.name for r in settings.rules]


def without(settings: Settings, kind: CatalogKind, name: str) -> Settings:
    field = {"brand": "brands", "source": "sources", "rule": "rules"}[kind]
    kept = tuple(i for i in getattr(settings, field) if i.name != name)
    return settings.model_copy(update={field: kept})


def _from_validation(exc: ValidationError) -> list[FieldError]:
    return [_field_error(err) for err in exc.errors(include_input=False, include_url=False)]


def _field_error(err: ErrorDetails) -> FieldError:
    """One pydantic error as a form message; input values are never echoed (secrets)."""
    field = str(err["loc"][0]) if err["loc"] else ""
    kind = err["type"]
    if kind == "missing":
        return FieldError(field, "Please fill in this field.")
    if kind == "string_too_short":
        return FieldError(field, "This cannot be empty.")
    if kind == "string_pattern_mismatch" and field == "name":
        return FieldError(field, _NAME_RULE)
    if kind == "extra_forbidden":
        return FieldError(field, f"{field!r} is not a setting of this kind of item.")
    return FieldError(field, _sentence(err["msg"].removeprefix("Value error, ")))


def _sentence(text: str) -> str:
    text = text.strip().replace("Input should be", "This should be")
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))


def taken(kind: CatalogKind, name: str, where: str) -> str:
    return f"A {LABELS[kind]} named {name!r} already exists in the {where}; choose another name."


def _missing(label: str, name: str) -> str:
    return f"There is no {label} named {name!r}."


def read_only(kind: CatalogKind, name: str) -> str:
    return (
        f"The {LABELS[kind]} {name!r} comes from the configuration file; it can only be changed"
        " there."
    )


def still_used(kind: CatalogKind, name: str, users: Sequence[str]) -> str:
    return (
        f"{', '.join(users)} still use the {LABELS[kind]} name {name!r}; change them first, then"
        " rename."
    )
