"""Sources & brands (read-only): collector health from the store, brands from the config."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import database, reader, settings


@st.cache_data(ttl=15, show_spinner=False)
def load_status(path: str) -> pd.DataFrame:
    with reader(path) as store:
        return pd.DataFrame(store.source_status())


def health(status: pd.DataFrame) -> pd.DataFrame:
    configured = {s.name: s for s in settings().sources}
    state = status["last_status"].fillna("never run")
    paused = status["paused_until"].notna()
    return pd.DataFrame(
        {
            "Source": status["name"],
            "Kind": status["kind"],
            "Every": status["name"].map(lambda n: _every(configured.get(n))),
            "Last run (UTC)": pd.to_datetime(status["last_run_at"], utc=True),
            "Status": state.where(~paused, "paused"),
            "New items": status["new"],
            "Fetched": status["fetched"],
            "Skipped": status["skipped"],
            "Failures": status["failures"],
            "Last error": status["last_error"],
            "Paused until (UTC)": pd.to_datetime(status["paused_until"], utc=True),
            "Next due (UTC)": pd.to_datetime(status["next_due"], utc=True),
            "Mentions": status["mentions"],
        }
    )


def _every(source: object) -> str:
    every = getattr(source, "every", None)
    return "" if every is None else f"{int(every.total_seconds() // 60)} min"


def page() -> None:
    st.title("Sources & brands")
    st.caption("Read-only: change sources and brands in the config file, then restart kuulo.")
    status = load_status(database())
    st.subheader("Source health")
    if status.empty:
        st.info("No source has been scheduled yet. Add `[[sources]]` and run `kuulo run`.")
    else:
        when = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
        st.dataframe(
            health(status),
            hide_index=True,
            width="stretch",
            column_config={
                "Last run (UTC)": when,
                "Paused until (UTC)": when,
                "Next due (UTC)": when,
                "Last error": st.column_config.TextColumn(width="large"),
            },
        )
    st.subheader("Brands")
    brands = settings().brands
    if not brands:
        st.info("No brands configured: add `[[brands]]` entries with a `query`.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Brand": [b.name for b in brands],
                "Query": [b.query for b in brands],
                "Competitors": [", ".join(b.competitors) for b in brands],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"Query": st.column_config.TextColumn(width="large")},
    )
