"""The kuulo dashboard: ``streamlit run dashboard/app.py -- --config config/kuulo.toml``.

It never collects, scores or sends. Views read through a read-only connection (``mode=ro``);
staff actions (status, assignment, tags, notes, sentiment corrections, blocks) go through a
separate writable store, one short transaction each. Mention text is untrusted, so it is shown
only through components that escape it. Pages: ``dashboard/views/*.py`` -> ``dashboard/*.py``
(not ``pages/``: Streamlit would also serve a folder of that name page by page, without this
file's sign-in gate and navigation).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth
from dashboard.common import ensure_schema, settings
from kuulo.errors import KuuloError

PAGES = Path(__file__).parent / "views"
URL_PATHS = ("inbox", "overview", "competitors", "export", "sources", "alerts")


def navigation() -> st.navigation:  # type: ignore[valid-type]
    page = st.Page
    return st.navigation(
        {
            "kuulo · mentions": [
                page(
                    PAGES / "inbox.py",
                    title="Inbox",
                    icon=":material/inbox:",
                    url_path="inbox",
                    default=True,
                ),
                page(
                    PAGES / "overview.py",
                    title="Overview",
                    icon=":material/monitoring:",
                    url_path="overview",
                ),
                page(
                    PAGES / "competitors.py",
                    title="Competitors",
                    icon=":material/balance:",
                    url_path="competitors",
                ),
            ],
            "Data": [
                page(
                    PAGES / "export.py",
                    title="Export",
                    icon=":material/download:",
                    url_path="export",
                ),
                page(
                    PAGES / "sources.py",
                    title="Sources & brands",
                    icon=":material/rss_feed:",
                    url_path="sources",
                ),
                page(
                    PAGES / "alerts.py",
                    title="Alerts",
                    icon=":material/notifications:",
                    url_path="alerts",
                ),
            ],
        }
    )


def main() -> None:
    st.set_page_config(page_title="kuulo", page_icon="👂", layout="wide")
    try:
        database = settings().database_path()
    except KuuloError as exc:
        st.title("kuulo")
        st.error(f"Configuration problem:\n\n{exc}")
        st.stop()
    if not database.exists():
        st.title("kuulo")
        st.info(f"No database yet at `{database}`. Start collecting with `kuulo run`.")
        st.stop()
    ensure_schema(str(database))
    auth.gate(URL_PATHS)  # the sign-in form until signed in, when not on loopback
    pages = navigation()
    if not auth.sign_in_required() and not st.user.get("email"):
        st.sidebar.text_input(
            "Acting as",
            key="actor",
            placeholder="your name",
            help="Recorded with every staff action.",
        )
    pages.run()


main()
