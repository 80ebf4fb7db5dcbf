"""Add and edit a dashboard source (feed): the common keys plus its kind's own keys.

A kind's keys come from its collector's ``Config`` pydantic model (found through the entry
points in :mod:`kuulo.registry`), so a new collector gets its fields here without a change to
the dashboard. Secrets are never typed in: a secret key names the environment variable that
holds it (stored as ``{ "$env" = "NAME" }``, as in the config file).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import streamlit as st
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from dashboard import catalog_forms as forms
from kuulo import registry
from kuulo.settings import Settings, SourceSettings
from kuulo.store import CatalogItem

Widget = Literal["text", "number", "duration", "list", "bool", "secret"]
COMMON = ("name", "kind", "every", "brands", "enabled")
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass(frozen=True)
class Option:
    """One key of a collector's Config, as a form field."""

    name: str
    widget: Widget
    required: bool
    default: Any
    number: type | None = None  # int or float, for "number"

    @property
    def label(self) -> str:
        suffix = " (environment variable)" if self.widget == "secret" else ""
        return f"{self.name}{suffix}{' *' if self.required else ''}"

    @property
    def placeholder(self) -> str:
        if self.widget == "secret":
            return f"e.g. KUULO_{self.name.upper()}"
        if self.required or self.default in (None, ()):
            return "" if self.required else "optional"
        shown = ", ".join(self.default) if isinstance(self.default, tuple) else show(self.default)
        return f"default: {shown}"


def show(value: object) -> str:
    """A default as it would be written in the config file (``timedelta(hours=24)`` -> 24h)."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in UNITS:
            if seconds and seconds % size == 0:
                return f"{seconds // size}{unit}"
        return "0s"
    return str(value)


def _plain(annotation: Any) -> Any:
    """``int | None`` -> ``int``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else str
    return annotation


def _widget(annotation: Any) -> Widget:
    plain = _plain(annotation)
    if plain is bool:
        return "bool"
    if plain in (int, float):
        return "number"
    if plain is timedelta:
        return "duration"
    if isinstance(plain, type) and issubclass(plain, SecretStr):
        return "secret"
    if typing.get_origin(plain) in (tuple, list):
        return "list"
    return "text"


def option(name: str, info: FieldInfo) -> Option:
    widget = _widget(info.annotation)
    plain = _plain(info.annotation)
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    number = plain if widget == "number" else None
    return Option(name, widget, info.is_required(), default, number)


def options(kind: str) -> list[Option]:
    """The kind's own keys, required ones first; none when the kind cannot be loaded."""
    try:
        config = registry.load(registry.COLLECTORS, kind).Config
    except Exception:  # a broken plug-in: validation on save names it
        return []
    found = [option(name, info) for name, info in config.model_fields.items()]
    return sorted(found, key=lambda o: not o.required)


def to_body(opt: Option, raw: Any) -> Any:
    """A field's value as the config file would hold it; None: leave the key out."""
    if opt.widget == "bool":
        return None if raw == opt.default else bool(raw)
    text = str(raw or "").strip()
    if not text:
        return None
    if opt.widget == "secret":
        return {"$env": text}
    if opt.widget == "list":
        return forms.split_list(text)
    if opt.widget == "number" and opt.number is not None:
        try:
            return opt.number(text)
        except ValueError:
            return text  # validation says what is wrong with it, under the field
    return text


def to_field(opt: Option, value: Any) -> Any:
    if opt.widget == "bool":
        return bool(value)
    if isinstance(value, Mapping):
        return str(value.get("$env", ""))
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def load(body: Mapping[str, Any], brands: list[str]) -> dict[str, Any]:
    """A stored source -> field values (brands no longer known are dropped)."""
    if not body:
        return {}
    kind = str(body.get("kind", ""))
    values: dict[str, Any] = {
        "name": str(body.get("name", "")),
        "kind": kind,
        "every": to_field(Option("every", "duration", False, None), body.get("every", "")),
        "brands": [b for b in body.get("brands") or [] if b in brands],
        "enabled": bool(body.get("enabled", True)),
    }
    for opt in options(kind):
        if opt.name in body:
            values[f"{kind}-{opt.name}"] = to_field(opt, body[opt.name])
    return values


def option_field(kind: str, opt: Option) -> Any:
    key = forms.field_key("source", f"{kind}-{opt.name}")
    if opt.widget == "bool":
        if key not in st.session_state:
            st.session_state[key] = bool(opt.default)
        value: Any = st.checkbox(opt.label, key=key)
    else:
        help_text = (
            "Secrets are never stored in the database: name the environment variable of the"
            " kuulo service that holds it (its name must start with KUULO_). Set it where"
            " `kuulo run` runs, then restart it."
            if opt.widget == "secret"
            else ("Comma-separated." if opt.widget == "list" else None)
        )
        value = st.text_input(opt.label, key=key, placeholder=opt.placeholder, help=help_text)
    forms.field_errors("source", opt.name, value)
    return value


def common_fields(settings: Settings, kinds: list[str]) -> dict[str, Any]:
    key = forms.field_key
    name = st.text_input("Name *", key=key("source", "name"), placeholder="e.g. acme-blog")
    forms.field_errors("source", "name", name)
    if st.session_state.get(key("source", "kind")) not in kinds:
        st.session_state[key("source", "kind")] = "rss" if "rss" in kinds else kinds[0]
    kind = st.selectbox("Kind *", kinds, key=key("source", "kind"))
    forms.field_errors("source", "kind", kind)
    every = st.text_input(
        "Every",
        key=key("source", "every"),
        placeholder=f"default: {show(SourceSettings.model_fields['every'].default)}",
        help='How often it is collected: "30s", "15m", "1h" or "1d".',
    )
    forms.field_errors("source", "every", every)
    brands = st.multiselect(
        "Brands",
        [b.name for b in settings.brands],
        key=key("source", "brands"),
        placeholder="all brands",
        help="The brands this source searches for or matches; none chosen: all brands.",
    )
    forms.field_errors("source", "brands", brands)
    if key("source", "enabled") not in st.session_state:
        st.session_state[key("source", "enabled")] = True
    enabled = st.checkbox("Enabled", key=key("source", "enabled"))
    forms.field_errors("source", "enabled", enabled)
    return {"name": name, "kind": kind, "every": every, "brands": brands, "enabled": enabled}


def body_of(common: dict[str, Any], opts: list[Option], raw: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": str(common["name"]).strip(), "kind": common["kind"]}
    if every := str(common["every"]).strip():
        body["every"] = every
    if common["brands"]:
        body["brands"] = list(common["brands"])
    body["enabled"] = bool(common["enabled"])
    for opt in opts:
        value = to_body(opt, raw[opt.name])
        if value is not None:
            body[opt.name] = value
    return body


def form(settings: Settings, items: list[CatalogItem], clear: Callable[[], None]) -> None:
    ours = [i for i in items if not i.is_override]
    bodies = {i.name: i.body for i in ours}
    brands = [b.name for b in settings.brands]
    kinds = list(registry.available(registry.COLLECTORS))
    choice = forms.picker("source", [i.name for i in ours], bodies, lambda b: load(b, brands))
    editing = forms.editing(choice)
    left, right = st.columns(2, gap="large")
    with left:
        common = common_fields(settings, kinds)
    kind = str(common["kind"])
    opts = options(kind)
    with right:
        st.markdown(f"**{kind} settings**")
        raw = {opt.name: option_field(kind, opt) for opt in opts}
        if not opts:
            st.caption("This kind has no settings of its own.")
    forms.item_errors("source", {*COMMON, *raw})
    body = body_of(common, opts, raw)
    values = {**common, **raw}
    label = "Add source" if editing is None else "Save changes"
    if st.button(label, key="source-save", type="primary", icon=":material/save:"):
        required = ("name", *(o.name for o in opts if o.required))
        forms.save("source", body, values, editing=editing, clear=clear, required=required)
    if editing is not None:
        forms.delete_controls("source", editing, settings, clear)
