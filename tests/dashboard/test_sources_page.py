"""Adding, editing and deleting dashboard brands and sources through AppTest, on a real demo
database: the live query preview, errors under their field, SSRF refusals, and roles.

Tests that write get their own copy of the module's database, so they cannot see each other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Widget

from kuulo.catalog import load_merged
from kuulo.clock import utcnow
from kuulo.matching import BrandQuery
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, open_store
from kuulo.store.catalog import CatalogKind
from tests.dashboard.apptest import open_page, private_copy, with_sign_in
from tests.support import collected_demo

LOOPBACK_FEED = "http://127.0.0.1:8080/feed.xml"


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory):
    return collected_demo(tmp_path_factory.mktemp("catalog"))


@pytest.fixture
def config(demo_config, tmp_path):
    """A private copy of the demo database, with a config pointing at it."""
    return private_copy(demo_config, tmp_path)


def page(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_page(config, monkeypatch, "sources")


def items(config: Path, kind: CatalogKind) -> dict[str, dict[str, Any]]:
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        return {i.name: i.body for i in store.catalog_items(kind)}


def under(at: AppTest, key: str) -> list[Any]:
    """The elements shown right below a widget, up to the next widget: its errors, if any."""
    nodes = [n for n in at.main if not isinstance(n, Block)]
    start = next(i for i, n in enumerate(nodes) if isinstance(n, Widget) and n.key == key)
    found: list[Any] = []
    for node in nodes[start + 1 :]:
        if isinstance(node, Widget):
            break
        found.append(node)
    return found


def plain(text: str) -> str:
    """A message without the Markdown escapes the page adds to typed names and queries."""
    return re.sub(r"\\(.)", r"\1", text)


def errors_under(at: AppTest, key: str) -> list[str]:
    return [plain(n.value) for n in under(at, key) if n.type == "error"]


def errors(at: AppTest) -> list[str]:
    return [plain(e.value) for e in at.error]


def table(at: AppTest, column: str) -> pd.DataFrame:
    return next(f.value for f in at.dataframe if column in f.value.columns)


def recent_matches(config: Path, query: str) -> int:
    """The preview's number, computed apart: the query over the 500 newest mentions."""
    parsed = BrandQuery(query)
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        rows = store.mentions(MentionFilter(), limit=500)
    texts = [f"{r['title']}\n{r['text']}" if r["title"] else r["text"] for r in rows]
    return sum(parsed.matches(t) for t in texts)


def test_lists_show_where_each_item_comes_from(config, monkeypatch):
    with open_store(config.parent / "kuulo.db") as store:
        store.save_catalog_item("brand", "Solaris", {"name": "Solaris", "query": "solaris"},
                                "test", utcnow())  # fmt: skip
    at = page(config, monkeypatch)
    brands = table(at, "Brand")
    assert dict(zip(brands["Brand"], brands["Origin"], strict=True)) == {
        "Nordlight": "from config",
        "Brewhaus": "from config",
        "Kahvila Aurora": "from config",
        "Solaris": "dashboard",
    }
    health = table(at, "Source")
    assert set(health["Origin"]) == {"from config"}
    assert "broken-bomb" in set(health.loc[health["Status"] == "error", "Source"])


def test_adding_a_brand_previews_its_query_then_saves_it(config, monkeypatch):
    at = page(config, monkeypatch)
    at.text_input(key="brand-f-name").input("Nordlight fans").run()
    at.text_input(key="brand-f-query").input("Nordlight OR Brewhaus").run()
    expected = recent_matches(config, "Nordlight OR Brewhaus")
    assert expected > 0
    (preview,) = [m.value for m in under(at, "brand-f-query") if "Would match" in str(m.value)]
    assert f"Would match **{expected:,}** of the latest" in preview
    examples = table(at, "Mention")
    assert 0 < len(examples) <= 5
    assert examples["Mention"].str.contains("nordlight|brewhaus", case=False).all()
    at.multiselect(key="brand-f-competitors").set_value(["Brewhaus"]).run()
    at.button(key="brand-save").click().run()
    assert not at.exception, at.exception
    assert items(config, "brand") == {
        "Nordlight fans": {
            "name": "Nordlight fans",
            "query": "Nordlight OR Brewhaus",
            "competitors": ["Brewhaus"],
        }
    }
    assert any("Added brand Nordlight fans" in s.value for s in at.success)
    brands = table(at, "Brand")
    assert brands.loc[brands["Brand"] == "Nordlight fans", "Origin"].item() == "dashboard"
    assert at.text_input(key="brand-f-name").value == ""  # the form is empty again
    merged, problems = load_merged(load_settings(config, {}))
    assert "Nordlight fans" in [b.name for b in merged.brands]
    assert not problems


def test_a_bad_query_shows_its_error_under_the_field_and_saves_nothing(config, monkeypatch):
    at = page(config, monkeypatch)
    at.text_input(key="brand-f-name").input("Broken").run()
    at.text_input(key="brand-f-query").input("acme AND (road").run()
    (live,) = errors_under(at, "brand-f-query")  # while typing, before any save
    assert "cannot parse" in live
    at.button(key="brand-save").click().run()
    assert errors_under(at, "brand-f-query") == [live]  # shown once, not twice
    assert errors_under(at, "brand-f-name") == []
    assert items(config, "brand") == {}
    assert at.text_input(key="brand-f-name").value == "Broken"  # nothing typed is lost
    at.text_input(key="brand-f-query").input("").run()
    at.text_input(key="brand-f-name").input("Nordlight").run()
    at.button(key="brand-save").click().run()
    (taken,) = errors_under(at, "brand-f-name")
    assert "already exists in the configuration file" in taken
    assert errors_under(at, "brand-f-query")  # empty: "Please fill in" or "cannot be empty"
    assert items(config, "brand") == {}


def test_editing_and_deleting_a_dashboard_brand(config, monkeypatch):
    with open_store(config.parent / "kuulo.db") as store:
        body = {"name": "Solaris", "query": "solaris", "competitors": ["Brewhaus"]}
        store.save_catalog_item("brand", "Solaris", body, "test", utcnow())
    at = page(config, monkeypatch)
    assert at.selectbox(key="brand-pick").options == ["New brand", "Edit Solaris"]
    at.selectbox(key="brand-pick").set_value("Solaris").run()
    assert at.text_input(key="brand-f-query").value == "solaris"
    assert at.multiselect(key="brand-f-competitors").value == ["Brewhaus"]
    at.text_input(key="brand-f-name").input("Solaris Oy").run()
    at.text_input(key="brand-f-query").input("solaris -beer").run()
    at.button(key="brand-save").click().run()
    assert not at.exception, at.exception
    assert items(config, "brand") == {
        "Solaris Oy": {"name": "Solaris Oy", "query": "solaris -beer", "competitors": ["Brewhaus"]}
    }
    at.selectbox(key="brand-pick").set_value("Solaris Oy").run()
    at.button(key="brand-delete").click().run()
    assert items(config, "brand")  # asked first, nothing deleted yet
    assert any("Delete the brand" in w.value for w in at.warning)
    at.button(key="brand-delete-yes").click().run()
    assert items(config, "brand") == {}
    assert "Solaris Oy" not in set(table(at, "Brand")["Brand"])


def test_a_brand_still_named_by_a_source_is_not_deleted(config, monkeypatch):
    now = utcnow()
    with open_store(config.parent / "kuulo.db") as store:
        store.save_catalog_item("brand", "Solaris", {"name": "Solaris", "query": "solaris"},
                                "test", now)  # fmt: skip
        feed = {"name": "solaris-feed", "kind": "rss", "url": "https://example.com/feed.xml",
                "brands": ["Solaris"]}  # fmt: skip
        store.save_catalog_item("source", "solaris-feed", feed, "test", now)
    at = page(config, monkeypatch)
    at.selectbox(key="brand-pick").set_value("Solaris").run()
    at.button(key="brand-delete").click().run()
    at.button(key="brand-delete-yes").click().run()
    assert any("still named by source 'solaris-feed'" in e for e in errors(at))
    assert set(items(config, "brand")) == {"Solaris"}


def add_source(at: AppTest, name: str, url: str, every: str = "") -> AppTest:
    at.text_input(key="source-f-name").input(name).run()
    assert at.selectbox(key="source-f-kind").value == "rss"
    at.text_input(key="source-f-rss-url").input(url).run()
    at.text_input(key="source-f-every").input(every).run()
    at.multiselect(key="source-f-brands").set_value(["Nordlight"]).run()
    return at.button(key="source-save").click().run()


def test_a_loopback_feed_url_is_refused_under_the_url_field(config, monkeypatch):
    at = add_source(page(config, monkeypatch), "intranet", LOOPBACK_FEED)
    assert not at.exception, at.exception
    (refusal,) = errors_under(at, "source-f-rss-url")
    assert "private or internal address" in refusal
    assert items(config, "source") == {}
    at.text_input(key="source-f-rss-url").input("ftp://example.com/feed").run()
    at.button(key="source-save").click().run()
    assert "http:// or https://" in errors_under(at, "source-f-rss-url")[0]
    assert items(config, "source") == {}


def test_saving_an_empty_source_names_every_missing_field(config, monkeypatch):
    at = page(config, monkeypatch)
    at.button(key="source-save").click().run()
    assert not at.exception, at.exception
    assert errors_under(at, "source-f-name")
    assert errors_under(at, "source-f-rss-url") == ["Please fill in this field."]
    assert errors_under(at, "source-f-rss-language") == []  # optional
    at.text_input(key="source-f-rss-url").input("https://example.com/feed.xml").run()
    assert errors_under(at, "source-f-rss-url") == []  # changed since: its error is gone
    assert errors_under(at, "source-f-name")  # unchanged: still shown
    assert items(config, "source") == {}


def test_private_feed_hosts_can_be_allowed(config, monkeypatch):
    config.write_text(config.read_text() + "\n[dashboard]\nallow_private_feed_hosts = true\n")
    at = add_source(page(config, monkeypatch), "intranet", LOOPBACK_FEED, every="5m")
    assert not at.exception, at.exception
    assert items(config, "source") == {
        "intranet": {
            "name": "intranet",
            "kind": "rss",
            "url": LOOPBACK_FEED,
            "every": "5m",
            "brands": ["Nordlight"],
            "enabled": True,
        }
    }
    health = table(at, "Source").set_index("Source")
    assert health.loc["intranet", "Origin"] == "dashboard"
    assert health.loc["intranet", "Status"] == "never run"
    assert health.loc["intranet", "Every"] == "5m"


def test_editing_a_dashboard_source_keeps_what_was_not_changed(config, monkeypatch):
    feed = {"name": "acme-blog", "kind": "rss", "url": "https://example.com/feed.xml",
            "language": "fi", "every": "30m", "brands": ["Brewhaus"], "enabled": True}  # fmt: skip
    with open_store(config.parent / "kuulo.db") as store:
        store.save_catalog_item("source", "acme-blog", feed, "test", utcnow())
    at = page(config, monkeypatch)
    health = table(at, "Source").set_index("Source")
    assert (health.loc["acme-blog", "Origin"], health.loc["acme-blog", "Status"]) == (
        "dashboard", "never run",
    )  # fmt: skip
    at.selectbox(key="source-pick").set_value("acme-blog").run()
    assert at.text_input(key="source-f-rss-url").value == "https://example.com/feed.xml"
    assert at.text_input(key="source-f-every").value == "30m"
    assert at.multiselect(key="source-f-brands").value == ["Brewhaus"]
    at.checkbox(key="source-f-enabled").uncheck().run()
    at.text_input(key="source-f-rss-url").input("https://93.184.215.14/atom.xml").run()  # public
    at.button(key="source-save").click().run()
    assert not at.exception, at.exception
    assert items(config, "source")["acme-blog"] == {
        **feed, "url": "https://93.184.215.14/atom.xml", "enabled": False,
    }  # fmt: skip
    assert table(at, "Source").set_index("Source").loc["acme-blog", "Status"] == "disabled"


def test_a_source_kind_gets_the_fields_of_its_config_model(config, monkeypatch):
    at = page(config, monkeypatch)
    at.selectbox(key="source-f-kind").set_value("x").run()
    keys = {w.key for w in at.text_input} | {w.key for w in at.checkbox}
    assert {"source-f-x-bearer_token", "source-f-x-max_pages",
            "source-f-x-exclude_retweets"} <= keys  # fmt: skip
    assert "source-f-rss-url" not in keys
    assert at.text_input(key="source-f-x-bearer_token").label.endswith("(environment variable) *")
    at.text_input(key="source-f-name").input("x-search").run()
    at.text_input(key="source-f-x-bearer_token").input("KUULO_X_TOKEN").run()
    at.text_input(key="source-f-x-max_pages").input("1000").run()
    at.button(key="source-save").click().run()
    (limit,) = errors_under(at, "source-f-x-max_pages")
    assert "100" in limit
    assert items(config, "source") == {}


def signed_in(config: Path, monkeypatch: pytest.MonkeyPatch, role: str) -> AppTest:
    """The page as user vera, with sign-in on."""
    with_sign_in(config, "vera", role)
    return open_page(config, monkeypatch, "sources", user="vera")


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_only_admins_may_change_brands_and_sources(config, monkeypatch, role):
    at = signed_in(config, monkeypatch, role)
    assert any("needs the admin role" in c.value for c in at.caption)
    at.text_input(key="brand-f-name").input("Sneaky").run()
    at.text_input(key="brand-f-query").input("sneaky").run()
    at.button(key="brand-save").click().run()  # pressed anyway: refused on the server
    assert any(f"needs the admin role; vera is a {role}" in e for e in errors(at))
    assert items(config, "brand") == {}
    at = signed_in_again(at)
    add_source(at, "sneaky-feed", "https://example.com/feed.xml")
    assert any("needs the admin role" in e for e in errors(at))
    assert items(config, "source") == {}


def signed_in_again(at: AppTest) -> AppTest:
    """After a refusal the run stopped early: render the page again."""
    at.switch_page("views/sources.py").run()
    assert not at.exception, at.exception
    return at
