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

With ``[dashboard.oidc]`` the sign-in page also offers single sign-on through Streamlit's
``st.login`` (``kuulo dashboard`` hands Streamlit the provider's secrets in a private file).
Streamlit keeps that identity in its own signed cookie; its role comes from the settings'
e-mail lists and domains (:meth:`OidcSettings.role_for`) on every run, and an identity they
do not name is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from dashboard.common import database, reader, settings, writer
from kuulo.clock import utcnow
from kuulo.settings_dashboard import STREAMLIT_PROVIDER, OidcSettings
from kuulo.store.users import role_allows

SESSION_KEY = "auth-user"
FIRST_ADMIN = "kuulo users add NAME --role admin"


@dataclass(frozen=True, slots=True)
class Who:
    name: str | None  # None: sign-in is off (loopback), the implicit local admin
    role: str
    single_sign_on: bool = False  # signed in through [dashboard.oidc] (st.login)


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
        return oidc_user()
    with reader(database()) as store:
        user = store.get_user(name)
    if user is None or user.disabled:
        st.session_state.pop(SESSION_KEY, None)
        return None
    return Who(user.username, user.role)


def oidc() -> OidcSettings | None:
    return settings().dashboard.oidc


def oidc_user() -> Who | None:
    """The ``st.login`` identity with the role the settings give it; None: none, or refused."""
    config = oidc()
    if config is None or not st.user.get("is_logged_in"):
        return None
    claims = st.user.to_dict()
    role = config.role_for(claims)
    if role is None:
        return None
    return Who(str(claims["email"]).strip().lower(), role, single_sign_on=True)


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
        if who.single_sign_on:  # an address from the provider: plain text, never markdown
            side.text(f"Signed in as {who.name} ({who.role})")
        else:
            side.caption(f"Signed in as **{who.name}** ({who.role})")
        if side.button("Sign out", key="sign-out"):
            sign_out(who)
    if not role_allows(who.role, role):
        st.error(f"Not allowed: this needs the {role} role; {who.name} is a {who.role}.")
        st.stop()
    return who


def gate(url_paths: Sequence[str] = ()) -> None:
    """In ``app.py``, before navigation: until signed in, the sign-in form is the only page.

    st.navigation must still be called, and it serves the form under every page's URL as
    well: a deep link such as ``/overview`` shows the form (not Streamlit's "page not found"
    dialog) and, once signed in, the page it asked for. The page files live in
    ``dashboard/views/`` (not ``pages/``, which Streamlit would serve on its own, without this
    gate); each of them still starts with ``require("viewer", page=True)``.
    """
    if current() is None:
        form = st.Page(sign_in_page, title="Sign in", url_path="sign-in", default=True)
        aliases = [st.Page(sign_in_page, title="Sign in", url_path=path) for path in url_paths]
        st.navigation([form, *aliases], position="hidden").run()
        st.stop()


def sign_out(who: Who) -> None:
    if who.single_sign_on:
        st.logout()  # the browser is sent to /auth/logout: the identity cookie is cleared
        st.stop()  # (a rerun here would drop that redirect)
    st.session_state.pop(SESSION_KEY, None)
    st.rerun()


def sign_in_page() -> None:
    st.title("kuulo")
    config = oidc()
    if config is not None and st.user.get("is_logged_in"):
        refused(config)
        return
    with reader(database()) as store:
        users = store.count_active_users()
    if config is not None and users:
        local, sso = st.columns(2, gap="large")
        with local:
            sign_in_form()
        with sso:
            single_sign_on(config)
    elif config is not None:
        single_sign_on(config)
    elif users:
        sign_in_form()
    else:
        st.warning(
            f"Sign-in is required (the dashboard listens on {bind_address()}; [dashboard] "
            f'require_sign_in = "{settings().dashboard.require_sign_in}"), and no user exists '
            "yet. Create the first admin on the server with:"
        )
        st.code(FIRST_ADMIN, language="bash")


def sign_in_form() -> None:
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


def single_sign_on(config: OidcSettings) -> None:
    """The "Sign in with <provider>" button (st.login redirects to the identity provider)."""
    st.subheader("Single sign-on")
    st.caption("With your organisation's account; an admin decides which accounts may.")
    if st.button(f"Sign in with {config.provider_name}", key="oidc-sign-in", type="primary"):
        st.login(STREAMLIT_PROVIDER)


def refused(config: OidcSettings) -> None:
    """Signed in at the provider, but the settings give that identity no role here."""
    st.error(
        f"This {config.provider_name} account may not use this dashboard. An admin can add "
        "its e-mail address (or domain) to [dashboard.oidc] and restart kuulo."
    )
    st.text(f"Signed in as: {st.user.get('email') or 'an account without an e-mail address'}")
    if st.button("Sign out", key="oidc-refused-sign-out"):
        st.logout()
