"""Every dashboard page and inbox action through AppTest, against a real demo database.

Tests that act get their own copy of the module's database, so they cannot see each other.
"""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.export import export_bytes
from kuulo.settings import load_settings
from kuulo.store import open_store
from kuulo.store.inbox import InboxFilter
from kuulo.store.queries import EXPORT_COLUMNS
from tests.dashboard.apptest import APP, open_page, private_copy
from tests.support import collected_demo


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory):
    return collected_demo(tmp_path_factory.mktemp("pages"))


@pytest.fixture
def config(demo_config, tmp_path):
    """A private copy of the demo database, with a config pointing at it."""
    return private_copy(demo_config, tmp_path)


def app(config, monkeypatch, page: str | None = None) -> AppTest:
    return open_page(config, monkeypatch, page)


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def db(config):
    return load_settings(config, {}).database_path()


def status_counts(config) -> dict[str, int]:
    with open_store(db(config), read_only=True) as store:
        return dict(store.db.execute("SELECT status, count(*) FROM mention_triage GROUP BY 1"))


def test_inbox_lists_new_mentions_newest_first(config, monkeypatch):
    at = app(config, monkeypatch)
    frame = at.dataframe[0].value
    assert set(frame["Status"]) == {"new"}
    assert frame["When (UTC)"].is_monotonic_decreasing
    for column in ("Mention", "Author", "Reach", "Source", "Score", "Open to reply"):
        assert column in frame.columns
    assert "No rows selected." in [c.value for c in at.caption]


def test_inbox_filters_narrow_results(config, monkeypatch):
    at = app(config, monkeypatch)
    everything = len(at.dataframe[0].value)
    at.sidebar.multiselect(key="inbox-source").set_value(["social-mentions"]).run()
    at.sidebar.text_input(key="inbox-search").input("Nordlight").run()
    frame = at.dataframe[0].value
    assert 0 < len(frame) < everything
    assert set(frame["Source"]) == {"social-mentions"}
    assert frame["Mention"].str.contains("nordlight", case=False).all()


def test_marking_replied_persists_and_leaves_the_new_view(config, monkeypatch):
    at = app(config, monkeypatch)
    first_id = at.dataframe[0].value.iloc[0]["Mention"]
    at = select_rows(at, [0])
    at.button(key="inbox-replied").click().run()
    assert not at.exception
    assert status_counts(config) == {"replied": 1}
    assert "Mark replied: 1 mention" in at.success[0].value
    assert at.dataframe[0].value.iloc[0]["Mention"] != first_id  # no longer "new"


def test_bulk_action_updates_several_rows(config, monkeypatch):
    with open_store(db(config)) as store:  # Kim had work before: a suggested assignee
        (oldest,) = store.db.execute("SELECT id FROM mentions ORDER BY ts LIMIT 1").fetchone()
        store.assign([oldest], "Kim", "seed", datetime.now(UTC))
    at = select_rows(app(config, monkeypatch), [0, 1, 2])
    at.selectbox(key="inbox-assignee").set_value("Kim").run()
    at.button(key="inbox-assign").click().run()
    at = select_rows(at, [0, 1, 2])
    at.button(key="inbox-ignored").click().run()
    with open_store(db(config), read_only=True) as store:
        rows = store.db.execute(
            "SELECT status, assignee, updated_by FROM mention_triage WHERE status = 'ignored'"
        )
        assert rows.fetchall() == [("ignored", "Kim", "test@example.com")] * 3


def test_correction_is_stored_apart_from_the_model_label(config, monkeypatch):
    at = select_rows(app(config, monkeypatch), [0])
    model_label = at.dataframe[0].value.iloc[0]["Sentiment"]
    wanted = "positive" if model_label != "positive" else "negative"
    at.selectbox(key="inbox-label").set_value(wanted).run()
    at.button(key="inbox-correct").click().run()
    with open_store(db(config), read_only=True) as store:
        (correction,) = store.corrections()
        label = store.db.execute("SELECT sentiment FROM mentions WHERE id = ?",
                                 [correction["mention_id"]]).fetchone()[0]  # fmt: skip
    assert (correction["label"], correction["model_label"]) == (wanted, model_label)
    assert label == model_label
    assert at.dataframe[0].value.iloc[0]["Corrected"] == wanted


def test_tag_note_and_block_from_the_detail_view(config, monkeypatch):
    at = select_rows(app(config, monkeypatch), [0])
    author = at.dataframe[0].value.iloc[0]["Author"]
    at.text_input(key="inbox-tag").input("Press").run()
    at.button(key="inbox-tag-add").click().run()
    at = select_rows(at, [0])
    at.text_area(key="inbox-note").input("Replied by phone <b>ok</b>").run()
    at.button(key="inbox-note-add").click().run()
    at = select_rows(at, [0])
    assert at.text_area(key="inbox-note").value == ""
    assert "Replied by phone <b>ok</b>" in [t.value.split(": ", 1)[-1] for t in at.text]
    assert at.dataframe[0].value.iloc[0]["Tags"] == "press"
    at.button(key="block-author").click().run()
    assert author not in set(app(config, monkeypatch).dataframe[0].value["Author"])
    at.button(key="unblock-0").click().run()
    with open_store(db(config), read_only=True) as store:
        assert store.blocks() == []


def test_overview_page(config, monkeypatch):
    at = app(config, monkeypatch, "overview")
    metrics = {m.label: m for m in at.metric}
    assert int(metrics["Mentions"].value.replace(",", "")) > 0
    assert "vs previous" in (metrics["Mentions"].delta or "vs previous")
    assert [s.value for s in at.subheader] == [
        "Mentions over time by sentiment",
        "What negative mentions are about",
        "Spikes",
        "By source",
        "Top authors by reach",
        "Recent negative mentions",
    ]
    themes = at.dataframe[0].value
    assert list(themes.columns) == ["Word or phrase", "Mentions"]
    assert (themes["Mentions"] >= 2).all()
    assert not {"nordlight", "brewhaus", "the", "and"} & set(themes["Word or phrase"])
    spikes = at.dataframe[1].value  # the demo's feeds hold one burst of mentions
    assert set(spikes["What"]) <= {"Mention volume", "Negative share"}
    assert len(spikes) >= 1
    at.selectbox(key="overview-brand").set_value("Brewhaus").run()
    assert not at.exception
    assert int(at.metric[0].value.replace(",", "")) < int(
        metrics["Mentions"].value.replace(",", "")
    )


def test_overview_custom_days(config, monkeypatch):
    at = app(config, monkeypatch, "overview")
    at.segmented_control(key="overview-period").set_value("Custom").run()
    assert not at.exception
    days = at.date_input(key="overview-days")
    start, end = days.value
    assert (end - start).days == 13
    assert "vs previous 14 days" in (at.metric[0].delta or "")
    today = end
    days.set_value((today, today)).run()
    assert not at.exception
    assert "vs previous 1 days" in (at.metric[0].delta or "") or at.metric[0].delta is None


def test_competitors_page(config, monkeypatch):
    at = app(config, monkeypatch, "competitors")
    table = at.dataframe[0].value
    assert list(table["Brand"]) == ["Nordlight", "Brewhaus", "Kahvila Aurora"]
    assert table["Share of voice"].sum() == pytest.approx(1.0)
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) == 2


def test_export_page_and_files(config, monkeypatch):
    at = app(config, monkeypatch, "export")
    (button,) = at.get("download_button")
    assert button.proto.label.startswith("Download")
    total = int(at.metric[0].value.replace(",", ""))
    f = InboxFilter()
    rows = list(csv.reader(io.StringIO(export_bytes(str(db(config)), f, "csv").decode())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) - 1 >= total
    first = json.loads(export_bytes(str(db(config)), f, "jsonl").splitlines()[0])
    assert tuple(first) == EXPORT_COLUMNS
    table = pq.read_table(io.BytesIO(export_bytes(str(db(config)), f, "parquet")))
    assert tuple(table.column_names) == EXPORT_COLUMNS


def test_sources_page(config, monkeypatch):
    at = app(config, monkeypatch, "sources")
    health, brands = (d.value for d in at.dataframe)
    assert "social-mentions" in set(health["Source"])
    assert {"Last run (UTC)", "Status", "New items", "Last error", "Paused until (UTC)"} <= set(
        health.columns
    )
    assert "broken-bomb" in set(health.loc[health["Status"] == "error", "Source"])
    assert list(brands["Brand"]) == ["Nordlight", "Brewhaus", "Kahvila Aurora"]
    errors = [t.value for t in at.text if t.value.startswith("broken-")]  # in full, not cut
    assert len(errors) == 3
    assert any("declares a DOCTYPE/ENTITY" in e for e in errors)
    assert any("3 sources failing" in m.value for m in at.markdown)


@pytest.mark.parametrize("page", [None, "overview", "competitors", "export", "sources"])
def test_pages_explain_an_empty_database(tmp_path, monkeypatch, page):
    config = tmp_path / "kuulo.toml"
    config.write_text(
        f'[kuulo]\ndatabase = "{tmp_path / "kuulo.db"}"\n\n'
        '[[brands]]\nname = "Acme"\nquery = "acme"\ncompetitors = ["Globex"]\n\n'
        '[[brands]]\nname = "Globex"\nquery = "globex"\n'
    )
    open_store(tmp_path / "kuulo.db").close()
    at = app(config, monkeypatch, page)
    assert at.info, [e.type for e in at.main]


def test_mention_text_never_reaches_html_rendering():
    """Untrusted text is shown only through escaping components (reliability.md S2)."""
    for path in (Path(APP).parent).rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for risky in ("unsafe_allow_html", "st.html(", "unsafe_allow_javascript", "components.v1"):
            assert risky not in source, f"{path.name} uses {risky}"
