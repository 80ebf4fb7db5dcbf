"""Staff actions on selected mentions; each one is a single write through the writable store."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard import auth
from dashboard.common import actor, readable, reader, safe_links, writer
from kuulo.clock import utcnow
from kuulo.store import Store
from kuulo.store.inbox import LABELS, url_host

Write = Callable[[Store, list[str], str], object]
STATUS_BUTTONS = {
    "handled": "Mark handled",
    "replied": "Mark replied",
    "ignored": "Ignore",
    "new": "Reopen",
}


def run(path: str, what: str, ids: list[str], write: Write, clear: Callable[[], None]) -> None:
    """Do one write, remember a message for the next run, and re-run the whole page."""
    auth.require("agent")  # checked here, on the server, for every action
    try:
        with writer(path) as store:
            write(store, ids, actor())
    except ValueError as exc:
        st.session_state["inbox-flash"] = ("error", str(exc))
    else:
        count = f"{len(ids)} mention{'s' if len(ids) != 1 else ''}" if ids else "done"
        st.session_state["inbox-flash"] = ("success", f"{what}: {count}")
        st.session_state.pop("inbox-note", None)  # a note is added once, not again next time
    clear()
    st.rerun()


@st.cache_data(ttl=60, show_spinner=False)
def team(path: str) -> list[str]:
    """People mentions were assigned to before (the suggestions of "Assign to")."""
    with reader(path) as store:
        return store.assignees()


def flash() -> None:
    kind, message = st.session_state.pop("inbox-flash", (None, None))
    if kind == "error":
        st.error(message)
    elif kind:
        st.success(message)


def panel(path: str, chosen: pd.DataFrame, clear: Callable[[], None]) -> None:
    if chosen.empty:
        st.caption("No rows selected.")
        return
    ids = list(chosen["id"])
    st.subheader(f"{len(ids)} selected")
    if not auth.allows("agent"):
        st.caption("Read-only: inbox actions need the agent role.")
    status_row(path, ids, clear)
    left, middle, right = st.columns(3)
    with left:
        name = st.selectbox(
            "Assign to",
            team(path),
            index=None,
            key="inbox-assignee",
            placeholder="team member (type a new name)",
            accept_new_options=True,
        )
        if st.button("Assign", key="inbox-assign"):
            run(
                path,
                "Assigned" if name else "Unassigned",
                ids,
                lambda s, i, a: s.assign(i, name, a, utcnow()),
                clear,
            )
    with middle:
        tag = st.text_input("Tag", key="inbox-tag", placeholder="e.g. refund")
        add, remove = st.columns(2)
        if add.button("Add tag", key="inbox-tag-add"):
            run(path, "Tag added", ids, lambda s, i, a: s.add_tag(i, tag, a, utcnow()), clear)
        if remove.button("Remove tag", key="inbox-tag-remove"):
            run(
                path,
                "Tag removed",
                ids,
                lambda s, i, a: s.remove_tag(i, tag, a, utcnow()),
                clear,
            )
    with right:
        label = st.selectbox("Correct sentiment to", LABELS, key="inbox-label")
        if st.button("Save correction", key="inbox-correct"):
            run(
                path,
                f"Sentiment corrected to {label}",
                ids,
                lambda s, i, a: s.correct_sentiment(i, label, a, utcnow()),
                clear,
            )
    note = st.text_area("Note", key="inbox-note", height=80, placeholder="internal note")
    if st.button("Add note", key="inbox-note-add"):
        run(path, "Note added", ids, lambda s, i, a: s.add_note(i, note, a, utcnow()), clear)
    if len(ids) == 1:
        detail(path, chosen.iloc[0], clear)


def status_row(path: str, ids: list[str], clear: Callable[[], None]) -> None:
    for column, (status, label) in zip(
        st.columns(len(STATUS_BUTTONS)), STATUS_BUTTONS.items(), strict=True
    ):
        if column.button(label, key=f"inbox-{status}", width="stretch"):
            run(path, label, ids, lambda s, i, a, v=status: s.set_status(i, v, a, utcnow()), clear)


def detail(path: str, row: pd.Series, clear: Callable[[], None]) -> None:
    """One mention in full: text (escaped), reply link, notes, and the block buttons."""
    with st.container(border=True):
        author = readable(row["author"] or "unknown author")
        st.text(f"{author} · {row['source_name']} · {row['ts']}")
        if row["title"]:
            st.text(readable(row["title"]))
        st.text(readable(row["text"]))
        if row["sentiment_reason"]:
            st.text(f"Scorer's reason: {readable(row['sentiment_reason'])}")
        (link,) = safe_links([row["url"]])
        if link:
            st.link_button("Open to reply ↗", link)
        with reader(path) as store:
            notes = store.notes(row["id"])
        for n in notes:
            st.text(f"{n['created_at'][:16]} {readable(n['author'])}: {readable(n['body'])}")
        block_buttons(path, row, clear)


def block_buttons(path: str, row: pd.Series, clear: Callable[[], None]) -> None:
    site = url_host(row["url"])
    st.text(f"Author: {readable(row['author'] or '-')}    Site: {site or '-'}")
    author_col, site_col = st.columns(2)
    if row["author"] and author_col.button("Block this author", key="block-author"):
        run(
            path,
            "Author blocked",
            [],
            lambda s, _i, a: s.block("author", row["author"], a, utcnow()),
            clear,
        )
    if site and site_col.button("Block this site", key="block-site"):
        run(
            path,
            "Site blocked",
            [],
            lambda s, _i, a: s.block("site", site, a, utcnow()),
            clear,
        )


def blocks_panel(path: str, clear: Callable[[], None]) -> None:
    """Blocked authors and sites, each reversible; their mentions stay hidden until unblocked."""
    with reader(path) as store:
        blocked = store.blocks()
    with st.expander(f"Blocked authors and sites ({len(blocked)})"):
        if not blocked:
            st.caption("Nothing is blocked. Select one mention to block its author or site.")
        for i, b in enumerate(blocked):
            text, button = st.columns([4, 1])
            text.text(f"{b['kind']}: {b['value']} (by {b['created_by']}, {b['created_at'][:10]})")
            if button.button("Unblock", key=f"unblock-{i}"):
                run(
                    path,
                    "Unblocked",
                    [],
                    lambda s, _i, a, b=b: s.unblock(b["kind"], b["value"], a, utcnow()),
                    clear,
                )
