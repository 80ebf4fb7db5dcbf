"""Settings: one declared, validated object loaded from TOML with ``KUULO_*`` overrides.

Precedence (lowest first): built-in defaults < the TOML file < environment variables.
``KUULO_<KEY>`` overrides a key of the ``[kuulo]`` table (``KUULO_DATABASE``,
``KUULO_DASHBOARD_PORT``); ``KUULO_<TABLE>__<KEY>`` overrides a key of another table
(``KUULO_HTTP__READ_TIMEOUT``, ``KUULO_SENTIMENT__NEGATIVE_THRESHOLD``). ``KUULO_CONFIG`` names
the file. Secrets are written ``{ "$env" = "NAME" }`` or ``{ "$file" = "path" }`` and become
:class:`pydantic.SecretStr`, masked in ``repr`` and never echoed in errors.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from kuulo.errors import ConfigError, PluginError, QueryError
from kuulo.protocols import PluginConfig
from kuulo.settings_alerts import KNOWN_KEYS as ALERT_KEYS
from kuulo.settings_alerts import (
    AlertSettings,
    ChannelSettings,
    RuleSettings,
    check_alert_references,
)
from kuulo.settings_dashboard import DashboardSettings, OidcSettings
from kuulo.settings_errors import Problem, format_problems, problems_from_validation
from kuulo.settings_sentiment import SentimentSettings as SentimentSettings  # re-exported

if TYPE_CHECKING:
    from kuulo.matching import Brand

DEFAULT_CONFIG = Path("config/kuulo.toml")
_DISABLED = "disabled in the configuration (enabled = false)"
ENV_PREFIX = "KUULO_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """``"15m"``, ``"1h"``, ``"30s"``, ``"1d"`` or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION.match(value)) and float(m.group(1)) > 0:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError('expected a duration such as "30s", "15m", "1h" or "1d"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_duration_or_zero(value: object) -> timedelta:
    """A duration as :func:`parse_duration` reads it, or ``0`` / ``"0"`` / ``"0s"``: none."""
    return timedelta(0) if value in (0, "0", "0s") else parse_duration(value)


DurationOrZero = Annotated[timedelta, BeforeValidator(parse_duration_or_zero)]


class ResolvedSecret(SecretStr):
    """A value that came from ``$env``/``$file``; only these are accepted as secrets.

    A SecretStr from the moment it is read, so even the raw source options mask it.
    """


@dataclass(frozen=True)
class MissingSecret:
    """A ``$env`` secret whose variable is not set: the source using it is disabled."""

    variable: str


def _require_indirect(value: object) -> object:
    if isinstance(value, MissingSecret):
        return ResolvedSecret("")
    if isinstance(value, str):
        raise ValueError('write secrets as { "$env" = "VARIABLE" } or { "$file" = "path" }')
    return value


Secret = Annotated[SecretStr, BeforeValidator(_require_indirect)]
"""Type for plug-in config fields holding credentials (tokens, passwords, webhook URLs)."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoreSettings(_Table):
    """``[kuulo]``: where data lives and how the scheduler runs."""

    database: Path = Field(Path("data/kuulo.db"), description="SQLite database file")
    timezone: str = Field("UTC", description="IANA time zone for display and digests")
    tick: Duration = Field(timedelta(seconds=10), description="how often due sources are checked")
    max_parallel_sources: int = Field(4, ge=1, le=32, description="sources collected at once")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dashboard_host: str = Field("127.0.0.1", description="address the dashboard binds to")
    dashboard_port: int = Field(8501, ge=1, le=65535, description="dashboard port")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value


class HttpSettings(_Table):
    """``[http]``: limits every outgoing request obeys."""

    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds to wait for each read")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="largest body accepted, bytes")
    max_redirects: int = Field(5, ge=0, le=20, description="redirects followed per request")
    retries: int = Field(2, ge=0, le=10, description="retries on connection errors, 429, 5xx")
    backoff_factor: float = Field(0.5, ge=0, description="urllib3 exponential backoff factor")
    user_agent: str = Field(
        "kuulo/0.1 (+https://github.com/kuulo/kuulo; social listening)",
        description="User-Agent header sent with every request",
    )


class BrandSettings(_Table):
    """``[[brands]]``: a brand, its query (Lucene syntax) and its competitors."""

    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    competitors: tuple[str, ...] = ()


class SourceSettings(BaseModel):
    """``[[sources]]``: the common keys; every other key belongs to the collector's Config."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str = Field(min_length=1)
    every: Duration = timedelta(minutes=15)
    brands: tuple[str, ...] | None = None
    owned: bool = False
    enabled: bool = True

    @property
    def options(self) -> dict[str, Any]:
        """The plug-in specific keys, as written (secrets resolved)."""
        return dict(self.model_extra or {})


class Source(BaseModel):
    """A validated source: common settings plus the collector's own Config."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: SourceSettings
    config: PluginConfig | None
    disabled_reason: str | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def kind(self) -> str:
        return self.settings.kind


class Settings(BaseModel):
    """Everything kuulo is configured with; built by :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    kuulo: CoreSettings = CoreSettings()
    dashboard: DashboardSettings = DashboardSettings()
    http: HttpSettings = HttpSettings()
    sentiment: SentimentSettings = SentimentSettings()
    brands: tuple[BrandSettings, ...] = ()
    sources: tuple[SourceSettings, ...] = ()
    alerts: AlertSettings = AlertSettings()
    channels: tuple[ChannelSettings, ...] = ()
    rules: tuple[RuleSettings, ...] = ()
    config_path: Path | None = None
    dashboard_items: frozenset[tuple[str, str]] = frozenset()
    """(kind, name) of the brands, sources and rules that came from the database (the
    dashboard), set by :func:`kuulo.catalog.merged_settings`; never read from the file."""
    paused_items: frozenset[tuple[str, str]] = frozenset()
    """(kind, name) of the sources and rules paused in the dashboard (``enabled`` is false)."""

    def brand_objects(self) -> list[Brand]:
        """Brands with parsed queries (validated at load, so parsing cannot fail here)."""
        from kuulo.matching import Brand, BrandQuery

        return [Brand(b.name, BrandQuery(b.query), b.competitors) for b in self.brands]

    def resolved_sources(self) -> list[Source]:
        """Sources with their plug-in Config validated (done once at load; cheap to repeat)."""
        sources, problems = _validate_sources(self.sources)
        if problems:
            raise ConfigError(format_problems(self.config_path, problems))
        paused = {name for kind, name in self.paused_items if kind == "source"}
        paused_now = {"disabled_reason": "paused in the dashboard"}
        return [
            s.model_copy(update=paused_now)
            if s.name in paused and s.disabled_reason == _DISABLED
            else s
            for s in sources
        ]

    def database_path(self) -> Path:
        """The database path; relative paths are relative to the working directory."""
        return self.kuulo.database


def resolve_config_path(path: Path | str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--config`` wins, then ``KUULO_CONFIG``, then ``config/kuulo.toml``."""
    env = os.environ if environ is None else environ
    if path:
        return Path(path)
    if env.get("KUULO_CONFIG"):
        return Path(env["KUULO_CONFIG"])
    return DEFAULT_CONFIG


def load_settings(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, merge, resolve secrets and validate; raise ConfigError with every problem found."""
    env = os.environ if environ is None else environ
    config_path = resolve_config_path(path, env)
    data = _read_toml(config_path)
    problems: list[Problem] = []
    data = _apply_env_overrides(data, env, problems)
    data = _resolve_secrets(data, env, config_path.parent, problems)
    if problems:
        raise ConfigError(format_problems(config_path, problems))
    data["config_path"] = config_path
    data["dashboard_items"] = data["paused_items"] = frozenset()  # set by the database merge
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        found = problems_from_validation(exc, known=_known_keys())
        found += _validate_sources(_parseable_sources(data.get("sources")))[1]
        raise ConfigError(format_problems(config_path, found)) from None
    problems = _check_references(settings)
    problems += _validate_sources(settings.sources)[1]
    if problems:
        raise ConfigError(format_problems(config_path, problems))
    return settings


def _known_keys() -> dict[str, list[str]]:
    return {
        "[kuulo]": list(CoreSettings.model_fields),
        "[dashboard]": list(DashboardSettings.model_fields),
        "[dashboard.oidc]": list(OidcSettings.model_fields),
        "[http]": list(HttpSettings.model_fields),
        "[sentiment]": list(SentimentSettings.model_fields),
        "[[brands]]": list(BrandSettings.model_fields),
        **ALERT_KEYS,
        "top level": [
            f
            for f in Settings.model_fields
            if f not in ("config_path", "dashboard_items", "paused_items")
        ],
    }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found (copy config/kuulo.example.toml to start, "
            "or pass --config / set KUULO_CONFIG)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _apply_env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], problems: list[Problem]
) -> dict[str, Any]:
    tables: dict[str, type[BaseModel]] = {
        "kuulo": CoreSettings,
        "dashboard": DashboardSettings,
        "http": HttpSettings,
        "sentiment": SentimentSettings,
        "alerts": AlertSettings,
    }
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var == "KUULO_CONFIG":
            continue
        name = var[len(ENV_PREFIX) :].lower()
        table, _, key = name.rpartition("__") if "__" in name else ("kuulo", "", name)
        model = tables.get(table)
        if model is None or key not in model.model_fields:
            continue  # KUULO_* variables also name secrets (KUULO_X_BEARER_TOKEN): not ours
        section = merged.setdefault(table, {})
        if not isinstance(section, dict):
            problems.append(Problem(f"[{table}]", None, "must be a table"))
            continue
        section[key] = _env_value(value)
    return merged


def _env_value(value: str) -> Any:
    """Environment values are strings; a TOML literal (number, bool, array) is read as such."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _resolve_secrets(
    value: Any, environ: Mapping[str, str], base: Path, problems: list[Problem], where: str = ""
) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$env"}:
            name = str(value["$env"])
            return ResolvedSecret(environ[name]) if environ.get(name) else MissingSecret(name)
        if set(value) == {"$file"}:
            return _read_secret_file(base / str(value["$file"]), problems, where)
        return {
            k: _resolve_secrets(v, environ, base, problems, f"{where}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_secrets(v, environ, base, problems, where) for v in value]
    return value


def resolve_env_references(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``{ "$env" = NAME }`` values of an item created in the dashboard, resolved as in the
    config file (``$file`` is not offered there: the dashboard must not make kuulo read files)."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict) and set(value) == {"$env"}:
        name = str(value["$env"])
        return ResolvedSecret(env[name]) if env.get(name) else MissingSecret(name)
    if isinstance(value, dict):
        return {k: resolve_env_references(v, env) for k, v in value.items()}
    return value


def _read_secret_file(path: Path, problems: list[Problem], where: str) -> ResolvedSecret:
    try:
        return ResolvedSecret(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        problems.append(
            Problem(where.lstrip("."), None, f"cannot read secret file: {exc.strerror}")
        )
        return ResolvedSecret("")


def _check_references(settings: Settings) -> list[Problem]:
    from kuulo.matching import BrandQuery

    problems: list[Problem] = []
    names = [b.name for b in settings.brands]
    for i, brand in enumerate(settings.brands):
        table = f"[[brands]] #{i + 1} (name = {brand.name!r})"
        if names.count(brand.name) > 1:
            problems.append(Problem(table, "name", "brand names must be unique"))
        try:
            BrandQuery(brand.query)
        except QueryError as exc:
            problems.append(Problem(table, "query", str(exc)))
        for competitor in brand.competitors:
            if competitor not in names:
                problems.append(Problem(table, "competitors", _unknown_brand(competitor, names)))
    source_names = [s.name for s in settings.sources]
    for i, source in enumerate(settings.sources):
        table = f"[[sources]] #{i + 1} (name = {source.name!r})"
        if source_names.count(source.name) > 1:
            problems.append(Problem(table, "name", "source names must be unique"))
        for brand_name in source.brands or ():
            if brand_name not in names:
                problems.append(Problem(table, "brands", _unknown_brand(brand_name, names)))
    problems += check_alert_references(
        names, source_names, settings.channels, settings.rules, settings.alerts
    )
    return problems


def _unknown_brand(name: str, known: list[str]) -> str:
    return f"no [[brands]] entry named {name!r} (known: {', '.join(known) or 'none'})"


def _parseable_sources(raw: object) -> list[tuple[int, SourceSettings]]:
    """When the whole file fails, the sources whose common keys are fine, to check the rest."""
    found = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            found.append((i, SourceSettings.model_validate(item)))
        except ValidationError:
            continue  # already reported by the whole-file validation
    return found


def _validate_sources(
    all_sources: Sequence[SourceSettings] | Sequence[tuple[int, SourceSettings]],
) -> tuple[list[Source], list[Problem]]:
    """Validate each source's plug-in keys with its collector's Config."""
    from kuulo import registry  # late: the registry imports plug-ins that import kuulo

    sources: list[Source] = []
    problems: list[Problem] = []
    numbered = [s if isinstance(s, tuple) else (i, s) for i, s in enumerate(all_sources)]
    for i, source in numbered:
        table = f"[[sources]] #{i + 1} (name = {source.name!r})"
        try:
            collector = registry.load(registry.COLLECTORS, source.kind)
        except PluginError as exc:
            problems.append(Problem(table, "kind", str(exc)))
            continue
        missing = [v.variable for v in source.options.values() if isinstance(v, MissingSecret)]
        try:
            config = collector.Config.model_validate(source.options)
        except ValidationError as exc:
            keys = [*SourceSettings.model_fields, *collector.Config.model_fields]
            problems += problems_from_validation(exc, table=table, known={table: keys})
            continue
        reason = None
        if missing:
            reason = f"disabled: set the environment variable {', '.join(missing)}"
            if help_text := getattr(collector, "credential_help", None):
                reason += f" ({help_text})"
        elif not source.enabled:
            reason = _DISABLED
        sources.append(Source(settings=source, config=config, disabled_reason=reason))
    return sources, problems
