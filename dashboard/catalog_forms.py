"""What the brand, source and rule forms share: the item picker, errors under each field, and
the admin-only writes (save, delete, pause), each checked on the server.

Items created here live in the database (``kuulo/store/catalog.py``); items from the config
file are listed "from config" and never edited here (only a config *rule* can be paused, by an
override row). A failed check keeps everything typed: the errors are remembered with the values
they were found for and shown under their field until that field changes or the item saves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import streamlit as st

from dashboard import auth
from dashboard.common import actor, catalog_changed, database, file_settings, reader, writer
from kuulo.catalog import FieldError, item_origin, references_to, validate_item
from kuulo.clock import utcnow
from kuulo.settings import Settings
from kuulo.store.catalog import CatalogKind

FLASH = "catalog-flash"
NEW = "New"
ORIGINS = {"config": "from config", "dashboard": "dashboard"}
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

Load = Callable[[Mapping[str, Any]], dict[str, Any]]


def escape_md(text: object) -> str:
    """Typed names and queries inside messages: shown as typed, never as Markdown."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def origin(merged: Settings, kind: CatalogKind, name: str) -> str:
    """Where an item comes from, as listed (``merged``: :func:`common.settings`)."""
    return ORIGINS.get(item_origin(merged, kind, name) or "", "not configured")


def field_key(kind: str, field: str) -> str:
    return f"{kind}-f-{field}"


def pick_key(kind: str) -> str:
    return f"{kind}-pick"


def _errors_key(kind: str) -> str:
    return f"{kind}-errors"


def flash() -> None:
    for level, text in st.session_state.pop(FLASH, []):
        getattr(st, level)(text)


def finish(kind: str, level: str, text: str, clear: Callable[[], None], *, reset: bool) -> NoReturn:
    """Remember a message for the next run, drop cached reads, re-run (``reset``: empty form)."""
    st.session_state[FLASH] = [(level, text)]
    st.session_state.pop(f"{kind}-confirm-delete", None)
    if reset:
        reset_form(kind)
    catalog_changed()
    clear()
    st.rerun()


def reset_form(kind: str) -> None:
    prefix = field_key(kind, "")
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]
    st.session_state.pop(pick_key(kind), None)
    st.session_state.pop(_errors_key(kind), None)


def picker(kind: str, names: list[str], bodies: Mapping[str, Any], load: Load) -> str:
    """The picked item: ``NEW`` or a dashboard item's name; picking one fills the fields."""

    def fill() -> None:
        chosen = st.session_state.get(pick_key(kind), NEW)
        values = load(bodies.get(chosen, {}))
        for key in [k for k in st.session_state if str(k).startswith(field_key(kind, ""))]:
            del st.session_state[key]
        for field, value in values.items():
            st.session_state[field_key(kind, field)] = value
        st.session_state.pop(_errors_key(kind), None)
        st.session_state.pop(f"{kind}-confirm-delete", None)

    options = [NEW, *names]
    if st.session_state.get(pick_key(kind)) not in options:  # deleted or renamed elsewhere
        st.session_state.pop(pick_key(kind), None)
    return str(
        st.selectbox(
            f"Add a new {kind} or edit one added here",
            options,
            key=pick_key(kind),
            on_change=fill,
            format_func=lambda n: f"New {kind}" if n == NEW else f"Edit {n}",
            help=f"Only {kind}s added here can be edited here; those from the config file are"
            " changed in the file.",
        )
    )


def editing(choice: str) -> str | None:
    return None if choice == NEW else choice


def field_errors(kind: str, field: str, value: object) -> None:
    """The errors last found for ``field``, while it still holds the value they were found for."""
    found = st.session_state.get(_errors_key(kind))
    if not found:
        return
    values, errors = found
    if values.get(field) != value:
        return
    for error in errors:
        if error.field == field:
            st.error(escape_md(error.message), icon=":material/error:")


def item_errors(kind: str, fields: set[str]) -> None:
    """Errors about the whole item, or about a key the form has no field for."""
    found = st.session_state.get(_errors_key(kind))
    for error in found[1] if found else []:
        if error.field not in fields:
            where = f"{error.field}: " if error.field else ""
            st.error(escape_md(where + error.message), icon=":material/error:")


def save(
    kind: CatalogKind,
    body: dict[str, Any],
    values: dict[str, Any],
    *,
    editing: str | None,
    clear: Callable[[], None],
    required: tuple[str, ...] = (),
) -> None:
    """Validate against the config file plus the database, then create, replace or rename.

    ``values`` are the raw field values the errors are remembered with (see
    :func:`field_errors`); a ``required`` field left blank is reported even when validation
    stopped before reaching it, so one press of Save names every empty field.
    """
    auth.require("admin")  # on the server, for every write
    with reader(database()) as store:
        errors: list[FieldError] = validate_item(
            file_settings(), store, kind, body, editing=editing
        )
    if errors:
        said = {e.field for e in errors}
        errors += [
            FieldError(field, "Please fill in this field.")
            for field in required
            if field not in said and not values.get(field)
        ]
        st.session_state[_errors_key(kind)] = (values, errors)
        st.rerun()
    name = str(body["name"])
    now = utcnow()
    with writer(database()) as store:
        if editing is not None and editing != name:
            store.rename_catalog_item(kind, editing, name, actor(), now)
        store.save_catalog_item(kind, name, body, actor(), now)
    verb = "Added" if editing is None else "Saved"
    renamed = f" (renamed from {escape_md(editing)})" if editing and editing != name else ""
    text = f"{verb} {kind} {escape_md(name)}{renamed}: `kuulo run` uses it from its next tick."
    finish(kind, "success", text, clear, reset=True)


def delete(kind: CatalogKind, name: str, settings: Settings, clear: Callable[[], None]) -> None:
    auth.require("admin")
    if used := references_to(settings, kind, name):
        text = f"Not deleted: {escape_md(name)} is still named by {escape_md(', '.join(used))}."
        finish(kind, "error", text, clear, reset=False)
    with writer(database()) as store:
        deleted = store.delete_catalog_item(kind, name)
    if deleted:
        finish(kind, "success", f"Deleted {kind} {escape_md(name)}.", clear, reset=True)
    finish(kind, "warning", f"{escape_md(name)} was already gone.", clear, reset=True)


def delete_controls(
    kind: CatalogKind, name: str, settings: Settings, clear: Callable[[], None]
) -> None:
    """A delete button that asks once more before it deletes."""
    confirm = f"{kind}-confirm-delete"
    if st.session_state.get(confirm) != name:
        if st.button(f"Delete {kind}…", key=f"{kind}-delete", icon=":material/delete:"):
            auth.require("admin")
            st.session_state[confirm] = name
            st.rerun()
        return
    with st.container(border=True):
        st.warning(f"Delete the {kind} **{escape_md(name)}**? This cannot be undone.")
        yes, no, _ = st.columns([1, 1, 3])
        if yes.button("Yes, delete", key=f"{kind}-delete-yes", type="primary"):
            delete(kind, name, settings, clear)
        if no.button("Cancel", key=f"{kind}-delete-no"):
            st.session_state.pop(confirm, None)
            st.rerun()


def set_paused(kind: CatalogKind, name: str, paused: bool, clear: Callable[[], None]) -> None:
    """Pause or resume any item; for a config item the store writes an override row."""
    auth.require("admin")
    with writer(database()) as store:
        store.set_catalog_paused(kind, name, paused, actor(), utcnow())
    what = "Paused" if paused else "Resumed"
    finish(kind, "success", f"{what} {kind} {escape_md(name)}.", clear, reset=False)


def read_only_note(what: str) -> None:
    if not auth.allows("admin"):  # the buttons stay: every write checks the role on the server
        st.caption(f"Read-only: adding, editing and deleting {what} needs the admin role.")


def split_list(text: str) -> list[str]:
    """``"en, fi"`` -> ``["en", "fi"]`` (a list typed into one text field)."""
    return [part.strip() for part in text.split(",") if part.strip()]
