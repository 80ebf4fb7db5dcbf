"""Sign-in and roles for the dashboard.

Sign-in is off only while the dashboard listens on a loopback address (127.0.0.1, ::1,
localhost) and ``[dashboard] require_sign_in`` is "auto": then whoever reaches it is on this
machine and acts as an implicit local admin.
On any other address every session must sign in with a ``kuulo users`` account, and its role
decides what it may do: viewer (read), agent (inbox actions), admin (settings, rules, users).

:func:`gate` runs in ``app.py`` before any page; every page starts with
``require("viewer", page=True)`` and every staff action calls ``require("agent")`` on the
server, so a refused role is refused even when the button is pressed anyway. The role is read
again from the database on every run, so ``kuulo users set-role``/``disable`` take effect on
the user's next click.

A signed-in user lives in ``st.session_state``, which belongs to one browser tab's websocket
session: a page reload or a new tab signs in again (no hand-rolled cookies).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import streamlit as st

from dashboard.common import database, reader, settings, writer
from kuulo.clock import utcnow
from kuulo.store.users import role_allows

SESSION_KEY = "auth-user"
FIRST_ADMIN = "kuulo users add NAME --role admin"


@dataclass(frozen=True, slots=True)
class Who:
    name: str | None  # None: sign-in is off (loopback), the implicit local admin
    role: str


LOCAL_ADMIN = Who(None, "admin")


def bind_address() -> str:
    """Where the server listens: Streamlit's ``server.address``, else ``dashboard_host``."""
    address = st.get_option("server.address")
    return str(address or settings().kuulo.dashboard_host)


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or "": assume it can be reached from elsewhere


def sign_in_required() -> bool:
    always = settings().dashboard.require_sign_in == "always"  # e.g. behind a local proxy
    return always or not is_loopback(bind_address())


def current() -> Who | None:
    """Who this session is, checked against the database on every run; None: not signed in."""
    if not sign_in_required():
        return LOCAL_ADMIN
    name = st.session_state.get(SESSION_KEY)
    if not name:
        return None
    with reader(database()) as store:
        user = store.get_user(name)
    if user is None or user.disabled:
        st.session_state.pop(SESSION_KEY, None)
        return None
    return Who(user.username, user.role)


def allows(role: str) -> bool:
    who = current()
    return who is not None and role_allows(who.role, role)


def require(role: str, *, page: bool = False) -> Who:
    """Stop this run unless the session's role includes ``role`` (server-side check).

    Pages call it first with ``page=True`` (which also puts who is signed in and the sign-out
    button in the sidebar); staff actions call it before writing.
    """
    who = current()
    if who is None:  # not signed in, signed out elsewhere, or disabled since
        sign_in_page()
        st.stop()
    if page and who.name is not None:
        side = st.sidebar
        side.caption(f"Signed in as **{who.name}** ({who.role})")
        if side.button("Sign out", key="sign-out"):
            st.session_state.pop(SESSION_KEY, None)
            st.rerun()
    if not role_allows(who.role, role):
        st.error(f"Not allowed: this needs the {role} role; {who.name} is a {who.role}.")
        st.stop()
    return who


def gate() -> None:
    """In ``app.py``, before navigation: until signed in, the sign-in form is the only page.

    st.navigation must still be called: a run that stops before it makes Streamlit serve every
    file in dashboard/pages/ by URL. Those files are runnable on their own anyway (Streamlit
    sees the pages/ folder and runs ``/overview`` without ``app.py``), which is why every one
    of them starts with ``require("viewer", page=True)``.
    """
    if current() is None:
        form = st.Page(sign_in_page, title="Sign in", url_path="sign-in", default=True)
        st.navigation([form], position="hidden").run()
        st.stop()


def sign_in_page() -> None:
    st.title("kuulo")
    with reader(database()) as store:
        users = store.count_active_users()
    if not users:
        st.warning(
            f"Sign-in is required (the dashboard listens on {bind_address()}; [dashboard] "
            f'require_sign_in = "{settings().dashboard.require_sign_in}"), and no user exists '
            "yet. Create the first admin on the server with:"
        )
        st.code(FIRST_ADMIN, language="bash")
        return
    with st.form("sign-in", clear_on_submit=True):
        st.subheader("Sign in")
        username = st.text_input("Username", key="sign-in-username")
        password = st.text_input("Password", type="password", key="sign-in-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        sign_in(username, password)


def sign_in(username: str, password: str) -> None:
    with writer(database()) as store:
        result = store.verify_user(username, password, utcnow())
    if result.user is not None:
        st.session_state[SESSION_KEY] = result.user.username
        st.rerun()
    elif result.locked_until is not None:
        wait = max(1, int((result.locked_until - utcnow()).total_seconds()))
        st.error(f"Too many failed sign-ins: try again in {wait} seconds.")
    else:
        st.error("Wrong username or password.")
