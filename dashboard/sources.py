"""Sources & brands: each source's health, the brands and their queries, and (for admins) the
forms that add, edit and delete the sources and brands that live in the database.

Items from the config file are listed "from config" and are read-only here; the pipeline uses
the merged set (``kuulo/catalog.py``), and so does every page of the dashboard.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import brand_form, source_form
from dashboard import catalog_forms as forms
from dashboard.common import database, merged, reader
from kuulo.settings import Settings, SourceSettings
from kuulo.store import CatalogItem


@st.cache_data(ttl=15, show_spinner=False)
def load_status(path: str) -> pd.DataFrame:
    with reader(path) as store:
        return pd.DataFrame(store.source_status())


@st.cache_data(ttl=5, show_spinner=False)
def load_items(path: str) -> dict[str, list[CatalogItem]]:
    with reader(path) as store:
        return {kind: store.catalog_items(kind) for kind in ("brand", "source")}


def clear() -> None:
    load_status.clear()
    load_items.clear()
    brand_form.recent_mentions.clear()


STATUS_COLUMNS = ["name", "kind", "last_status", "last_run_at", "new", "fetched", "skipped",
                  "failures", "last_error", "paused_until", "next_due", "mentions"]  # fmt: skip


def health(status: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Every merged source (also those never run yet) and every source the database still
    remembers (removed ones: "not configured"), with its schedule state and latest run."""
    sources = settings.sources
    status = status.reindex(columns=STATUS_COLUMNS)
    configured = pd.DataFrame(
        {"name": [s.name for s in sources], "ckind": [s.kind for s in sources]}, dtype="object"
    )
    rows = configured.merge(status, on="name", how="outer", sort=True)
    by_name = {s.name: s for s in sources}
    state = rows["last_status"].fillna("never run")
    state = state.where(rows["paused_until"].isna(), "paused")
    disabled = rows["name"].map(lambda n: n in by_name and not by_name[n].enabled)
    return pd.DataFrame(
        {
            "Source": rows["name"],
            "Origin": rows["name"].map(lambda n: forms.origin(settings, "source", n)),
            "Kind": rows["ckind"].fillna(rows["kind"]),
            "Every": rows["name"].map(lambda n: _every(by_name.get(n))),
            "Last run (UTC)": pd.to_datetime(rows["last_run_at"], utc=True),
            "Status": state.where(~disabled, "disabled"),
            "New items": rows["new"],
            "Fetched": rows["fetched"],
            "Skipped": rows["skipped"],
            "Failures": rows["failures"],
            "Last error": rows["last_error"],
            "Paused until (UTC)": pd.to_datetime(rows["paused_until"], utc=True),
            "Next due (UTC)": pd.to_datetime(rows["next_due"], utc=True),
            "Mentions": rows["mentions"],
        }
    )


def failing_sources(table: pd.DataFrame) -> None:
    """Each failing source's latest error in full, above the table (whose cells cut it)."""
    failing = table[table["Status"] == "error"]
    if failing.empty:
        return
    with st.container(border=True):
        noun = "source" if len(failing) == 1 else "sources"
        st.markdown(f":red[**{len(failing)} {noun} failing**], the latest error of each:")
        for name, error in zip(failing["Source"], failing["Last error"], strict=True):
            st.text(f"{name}: {error}")


def _every(source: SourceSettings | None) -> str:
    return "" if source is None else source_form.show(source.every)


def brands_table(settings: Settings) -> pd.DataFrame:
    brands = settings.brands
    return pd.DataFrame(
        {
            "Brand": [b.name for b in brands],
            "Origin": [forms.origin(settings, "brand", b.name) for b in brands],
            "Query": [b.query for b in brands],
            "Competitors": [", ".join(b.competitors) for b in brands],
        }
    )


def sources_section(settings: Settings, items: list[CatalogItem]) -> None:
    st.subheader("Source health")
    status = load_status(database())
    if status.empty and not settings.sources:
        st.info(
            "No sources yet. Add one below, or add `[[sources]]` to the config file, and run"
            " `kuulo run`."
        )
    else:
        when = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
        table = health(status, settings)
        failing_sources(table)
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "Last run (UTC)": when,
                "Paused until (UTC)": when,
                "Next due (UTC)": when,
                "Last error": st.column_config.TextColumn(width="large"),
            },
        )
    with st.expander("Add or edit a source", icon=":material/add_circle:"):
        forms.read_only_note("sources")
        source_form.form(settings, items, clear)


def brands_section(settings: Settings, items: list[CatalogItem]) -> None:
    st.subheader("Brands")
    if settings.brands:
        st.dataframe(
            brands_table(settings),
            hide_index=True,
            width="stretch",
            column_config={"Query": st.column_config.TextColumn(width="large")},
        )
    else:
        st.info("No brands yet: add one below (or `[[brands]]` with a `query` in the config file).")
    with st.expander("Add or edit a brand", icon=":material/add_circle:"):
        forms.read_only_note("brands")
        brand_form.form(database(), settings, items, clear)


def page() -> None:
    st.title("Sources & brands")
    st.caption(
        'Items "from config" are read-only here: change them in the config file and restart'
        ' kuulo. Items added here ("dashboard") live in the database; kuulo uses both.'
    )
    forms.flash()
    settings, problems = merged()
    for problem in problems:
        st.warning(f"Left out: {forms.escape_md(problem)}", icon=":material/warning:")
    items = load_items(database())
    sources_section(settings, items["source"])
    brands_section(settings, items["brand"])
