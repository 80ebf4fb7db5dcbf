"""The dashboard through Streamlit's AppTest: a real script run against a real SQLite file."""

import re
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.support import collected_demo

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return collected_demo(tmp_path_factory.mktemp("dash"))


def app_for(config, monkeypatch) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--config", str(config)])
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=30)


def test_overview_shows_counts_chart_and_table(demo_db, monkeypatch):
    at = app_for(demo_db, monkeypatch).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Mentions"].replace(",", "")) > 250
    assert int(metrics["Negative"].replace(",", "")) > 0
    (table,) = at.dataframe
    frame = table.value
    assert list(frame.columns[:4]) == ["When (UTC)", "Sentiment", "Score", "Mention"]
    assert frame["When (UTC)"].is_monotonic_decreasing
    assert frame["Open to reply"].str.startswith("http").all()
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_filters_narrow_the_table(demo_db, monkeypatch):
    at = app_for(demo_db, monkeypatch).run()
    brand = at.sidebar.multiselect[0]
    brand.set_value(["Brewhaus"]).run()
    sentiment = at.sidebar.multiselect[2]
    sentiment.set_value(["negative"]).run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) > 0
    assert set(frame["Sentiment"]) == {"negative"}
    assert frame["Brands"].str.contains("Brewhaus").all()


def test_missing_database_says_how_to_start(tmp_path, monkeypatch):
    config = tmp_path / "kuulo.toml"
    config.write_text(f'[kuulo]\ndatabase = "{tmp_path / "none.db"}"\n')
    at = app_for(config, monkeypatch).run()
    assert not at.exception
    assert "kuulo run" in at.info[0].value


def test_broken_config_is_shown_not_crashed(tmp_path, monkeypatch):
    config = tmp_path / "kuulo.toml"
    config.write_text("[kuulo]\ndatabse = 1\n")
    at = app_for(config, monkeypatch).run()
    assert not at.exception
    assert "databse" in at.error[0].value


def test_the_sign_in_gate_knows_every_page_url() -> None:
    """A deep link to a page missing from ``URL_PATHS`` would meet Streamlit's "page not
    found" dialog behind the sign-in form (app.py is read, not imported: importing runs it)."""
    source = Path(APP).read_text(encoding="utf-8")
    declared = re.search(r"URL_PATHS = \(([^)]*)\)", source)
    assert declared is not None
    url_paths = sorted(re.findall(r'"([^"]+)"', declared.group(1)))
    assert sorted(re.findall(r'url_path="([^"]+)"', source)) == url_paths
    views = Path(APP).parent / "views"
    assert sorted(p.stem for p in views.glob("*.py")) == url_paths
