"""Alert rules on the Alerts page: add and edit a dashboard rule, pause or resume any rule.

The fields are those of ``[[rules]]`` (:class:`~kuulo.settings_alerts.RuleSettings`); their
choices and defaults are read from that model. A rule from the config file is paused through
an override row in the database, so the file itself is never written.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from dashboard import catalog_forms as forms
from dashboard.common import LANGUAGES
from kuulo.errors import QueryError
from kuulo.matching import BrandQuery
from kuulo.settings import Settings
from kuulo.settings_alerts import RuleSettings
from kuulo.store import CatalogItem

FIELDS = RuleSettings.model_fields
MENTION_ONLY = ("sources", "sentiment", "max_score", "match", "min_reach", "max_rating",
                "languages", "mode", "digest", "digest_at")  # fmt: skip
NUMBERS: dict[str, type] = {"max_score": float, "min_reach": int, "max_rating": float}
TEXTS = ("match", "digest_at", "quiet_hours")
HELP = {
    "kind": "mention: scored mentions that meet the conditions; spike: a brand's volume or"
    " negative share jumps (only brands, channels and quiet hours apply).",
    "brands": "None chosen: every brand.",
    "sources": "None chosen: every source.",
    "sentiment": "The model's label a mention must have; any: every label.",
    "max_score": "Only mentions scored at or below this (-1 to 1).",
    "match": "A brand-style query the mention text must also match, e.g. refund OR broken.",
    "min_reach": "Only authors with at least this many followers.",
    "max_rating": "Only reviews rated at or below this.",
    "languages": "None chosen: every language.",
    "mode": "instant: as they happen; digest: one summary per period.",
    "digest_at": "When a daily digest is sent (24-hour HH:MM, kuulo's time zone).",
    "quiet_hours": 'No messages in this span, e.g. "22:00-07:00"; they wait until it ends.',
}


def choices(field: str) -> list[str]:
    return [str(v) for v in typing.get_args(FIELDS[field].annotation)]


def default(field: str) -> Any:
    return FIELDS[field].get_default(call_default_factory=True)


def key(field: str) -> str:
    return forms.field_key("rule", field)


def load(body: Mapping[str, Any], known: Mapping[str, list[str]]) -> dict[str, Any]:
    """A stored rule -> field values (references no longer known are dropped)."""
    if not body:
        return {}
    values: dict[str, Any] = {}
    for field, value in body.items():
        if field in known:
            values[field] = [v for v in value or [] if v in known[field]]
        elif field == "languages":
            values[field] = list(value or [])
        elif field in NUMBERS or field in TEXTS or field == "name":
            values[field] = "" if value is None else str(value)
        elif field in FIELDS:
            values[field] = value
    return values


def pick(field: str, label: str, options: list[str], **kw: Any) -> Any:
    value = st.multiselect(label, options, key=key(field), help=HELP.get(field), **kw)
    forms.field_errors("rule", field, value)
    return value


def select(field: str, label: str) -> Any:
    options = choices(field)
    if st.session_state.get(key(field)) not in options:
        st.session_state[key(field)] = default(field)
    value = st.selectbox(label, options, key=key(field), help=HELP.get(field))
    forms.field_errors("rule", field, value)
    return value


def text(field: str, label: str, placeholder: str = "") -> str:
    shown = default(field)
    hint = placeholder or (f"default: {shown}" if shown is not None else "optional")
    value = st.text_input(label, key=key(field), placeholder=hint, help=HELP.get(field))
    if field == "match" and (problem := query_problem(value)):
        st.error(forms.escape_md(problem), icon=":material/error:")  # live, as it is typed
    else:
        forms.field_errors("rule", field, value)
    return value


def query_problem(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        BrandQuery(text)
    except QueryError as exc:
        return str(exc)
    return None


def number(raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw  # validation says what is wrong with it, under the field


def body_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[[rules]]`` table these field values make (empty fields leave their key out)."""
    body: dict[str, Any] = {"name": str(values["name"]).strip(), "kind": values["kind"]}
    for field in ("brands", "sources", "languages", "channels"):
        if values.get(field):
            body[field] = list(values[field])
    for field in ("sentiment", "mode", "digest"):
        if field in values:
            body[field] = values[field]
    for field, kind in NUMBERS.items():
        if raw := str(values.get(field) or "").strip():
            body[field] = number(raw, kind)
    for field in TEXTS:
        if raw := str(values.get(field) or "").strip():
            body[field] = raw
    if body["kind"] == "spike":
        body = {k: v for k, v in body.items() if k not in MENTION_ONLY}
    return body


def fields(settings: Settings) -> dict[str, Any]:
    values: dict[str, Any] = {}
    what, conditions, delivery = st.columns(3, gap="large")
    with what:
        st.markdown("**Rule**")
        values["name"] = text("name", "Name *", "e.g. negative-press")
        values["kind"] = select("kind", "Kind")
        values["brands"] = pick("brands", "Brands", [b.name for b in settings.brands],
                                placeholder="all brands")  # fmt: skip
        values["channels"] = pick("channels", "Channels *", [c.name for c in settings.channels],
                                  placeholder="where alerts go")  # fmt: skip
    spike = values["kind"] == "spike"
    with conditions:
        st.markdown("**Conditions**")
        if spike:
            st.caption("A spike rule watches each brand's hourly volume: no conditions.")
        else:
            values["sources"] = pick("sources", "Sources", [s.name for s in settings.sources],
                                     placeholder="all sources")  # fmt: skip
            values["sentiment"] = select("sentiment", "Sentiment")
            values["max_score"] = text("max_score", "Score at most", "e.g. -0.5 (optional)")
            values["match"] = text("match", "Text matches", "e.g. refund OR broken (optional)")
            values["min_reach"] = text("min_reach", "Reach at least", "followers (optional)")
            values["max_rating"] = text("max_rating", "Rating at most", "e.g. 2 (optional)")
            values["languages"] = pick(
                "languages", "Languages", LANGUAGES, placeholder="all languages",
                accept_new_options=True,
            )  # fmt: skip
    with delivery:
        st.markdown("**Delivery**")
        if not spike:
            values["mode"] = select("mode", "Mode")
            if values["mode"] == "digest":
                values["digest"] = select("digest", "Digest")
                values["digest_at"] = text("digest_at", "Digest at")
        values["quiet_hours"] = text("quiet_hours", "Quiet hours", 'e.g. "22:00-07:00" (optional)')
    return values


def form(settings: Settings, items: list[CatalogItem], clear: Callable[[], None]) -> None:
    ours = [i for i in items if not i.is_override]
    bodies = {i.name: i.body for i in ours}
    known = {
        "brands": [b.name for b in settings.brands],
        "sources": [s.name for s in settings.sources],
        "channels": [c.name for c in settings.channels],
    }
    choice = forms.picker("rule", [i.name for i in ours], bodies, lambda b: load(b, known))
    editing = forms.editing(choice)
    values = fields(settings)
    forms.item_errors("rule", set(values))
    label = "Add rule" if editing is None else "Save changes"
    if st.button(label, key="rule-save", type="primary", icon=":material/save:"):
        body = body_of(values)
        forms.save(
            "rule", body, values, editing=editing, clear=clear, required=("name", "channels")
        )
    if editing is not None:
        forms.delete_controls("rule", editing, settings, clear)


def pause_controls(names: list[str], paused: set[str], clear: Callable[[], None]) -> None:
    """Pause or resume any rule, from the config file or from here."""
    if not names:
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    name = left.selectbox("Pause or resume a rule", names, key="rule-pause-pick")
    if name is None:
        return
    if name in paused:
        if right.button("Resume", key="rule-resume", icon=":material/play_arrow:"):
            forms.set_paused("rule", name, False, clear)
    elif right.button("Pause", key="rule-pause", icon=":material/pause:"):
        forms.set_paused("rule", name, True, clear)
