"""Dashboard-created brands, sources and rules: validation, the merged set, origins, pausing.

Real settings loaded from TOML, a real SQLite store; URLs are IP literals or ``localhost`` so
no test needs DNS or the internet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kuulo.catalog import (
    FieldError,
    config_only,
    item_origin,
    load_merged,
    merged_settings,
    references_to,
    validate_item,
)
from kuulo.settings import Settings, load_settings
from kuulo.store import SqliteStore, open_store
from tests.support import write_config

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PUBLIC_FEED = "http://93.184.216.34/feed.xml"  # a public address literal: no DNS needed
ENV = {"KUULO_TEAM_URL": "json://localhost/hook"}
CONFIG = """
[[brands]]
name = "Acme"
query = "Acme"

[[sources]]
name = "acme-news"
kind = "rss"
url = "http://127.0.0.1:9/acme.xml"

[[channels]]
name = "team"
kind = "apprise"
urls = [{ "$env" = "KUULO_TEAM_URL" }]

[[rules]]
name = "negative-now"
channels = ["team"]
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path, CONFIG), environ=ENV)


@pytest.fixture
def store(settings: Settings) -> Iterator[SqliteStore]:
    with open_store(settings.database_path()) as s:
        assert isinstance(s, SqliteStore)
        yield s


def brand(name: str = "Initech", **keys: Any) -> dict[str, Any]:
    return {"name": name, "query": name, **keys}


def feed(name: str = "initech-blog", **keys: Any) -> dict[str, Any]:
    return {"name": name, "kind": "rss", "url": PUBLIC_FEED, "every": "15m", **keys}


def rule(name: str = "initech-alerts", **keys: Any) -> dict[str, Any]:
    return {"name": name, "channels": ["team"], **keys}


def fields(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.message for e in errors}


# -- validate_item -------------------------------------------------------------------------------


def test_valid_items_pass(settings: Settings, store: SqliteStore) -> None:
    assert validate_item(settings, store, "brand", brand(competitors=["Acme"])) == []
    assert validate_item(settings, store, "source", feed(brands=["Acme"])) == []
    assert validate_item(settings, store, "rule", rule(brands=["Acme"], match="late")) == []


def test_model_errors_name_their_field_in_plain_words(
    settings: Settings, store: SqliteStore
) -> None:
    errors = fields(validate_item(settings, store, "brand", {"name": "", "colour": "red"}))
    assert errors == {
        "name": "This cannot be empty.",
        "query": "Please fill in this field.",
        "colour": "'colour' is not a setting of this kind of item.",
    }
    errors = fields(validate_item(settings, store, "source", feed(name="has space", every="soon")))
    assert errors["name"].startswith("Use only letters, digits")
    assert errors["every"] == 'Expected a duration such as "30s", "15m", "1h" or "1d".'


def test_a_query_that_does_not_parse_is_an_error_on_the_query(
    settings: Settings, store: SqliteStore
) -> None:
    errors = fields(validate_item(settings, store, "brand", brand(query='Initech AND "open')))
    assert set(errors) == {"query"}
    errors = fields(validate_item(settings, store, "rule", rule(match="(late")))
    assert set(errors) == {"match"}


def test_names_are_unique_across_config_and_database(
    settings: Settings, store: SqliteStore
) -> None:
    store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    assert fields(validate_item(settings, store, "brand", brand("Acme"))) == {
        "name": "A brand named 'Acme' already exists in the configuration file;"
        " choose another name."
    }
    assert (
        "already exists in the dashboard"
        in fields(validate_item(settings, store, "brand", brand("Initech")))["name"]
    )
    assert (
        "already exists"
        in fields(validate_item(settings, store, "source", feed("acme-news")))["name"]
    )
    # editing an item under its own name is fine
    assert validate_item(settings, store, "brand", brand("Initech"), editing="Initech") == []


def test_config_items_are_read_only(settings: Settings, store: SqliteStore) -> None:
    errors = validate_item(settings, store, "brand", brand("Acme"), editing="Acme")
    assert errors == [
        FieldError("", "The brand 'Acme' comes from the configuration file; it can only be"
                   " changed there.")
    ]  # fmt: skip


def test_references_must_exist_in_the_merged_set(settings: Settings, store: SqliteStore) -> None:
    errors = validate_item(settings, store, "source", feed(brands=["Initech"]))
    assert errors == [FieldError("brands", "There is no brand named 'Initech'.")]

    store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    assert validate_item(settings, store, "source", feed(brands=["Initech"])) == []
    errors = validate_item(
        settings, store, "rule", rule(brands=["Nope"], sources=["gone"], channels=["pager"])
    )
    assert fields(errors) == {
        "brands": "There is no brand named 'Nope'.",
        "sources": "There is no source named 'gone'.",
        "channels": "There is no channel named 'pager'.",
    }


def test_renaming_a_brand_that_others_use_is_refused(
    settings: Settings, store: SqliteStore
) -> None:
    store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    store.save_catalog_item("source", "initech-blog", feed(brands=["Initech"]), "ana", NOW)
    errors = validate_item(settings, store, "brand", brand("Initrode"), editing="Initech")
    assert errors == [
        FieldError(
            "name",
            "source 'initech-blog' still use the brand name 'Initech'; change them first,"
            " then rename.",
        )
    ]
    merged, _ = merged_settings(settings, store)
    assert references_to(merged, "brand", "Initech") == ["source 'initech-blog'"]


def test_a_source_plugin_config_is_validated(settings: Settings, store: SqliteStore) -> None:
    errors = fields(validate_item(settings, store, "source", feed(url=None, color="x")))
    assert set(errors) == {"url", "color"}
    errors = fields(validate_item(settings, store, "source", feed(kind="telegraph")))
    assert errors["kind"].startswith("Unknown source type 'telegraph'")
    errors = fields(validate_item(settings, store, "source", feed(every="10s")))
    assert errors == {"every": "Check a source at most once a minute (e.g. 15m)."}


def test_a_secret_typed_inline_is_refused_and_not_echoed(
    settings: Settings, store: SqliteStore
) -> None:
    body = {"name": "x-search", "kind": "x", "query": "Acme", "bearer_token": "s3cr3t-token"}
    errors = validate_item(settings, store, "source", body)
    assert errors
    assert all("s3cr3t" not in e.message for e in errors)


def test_a_secret_names_a_kuulo_environment_variable_and_is_resolved_when_merged(
    settings: Settings, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUULO_X_TOKEN", "s3cr3t-token")
    body = {"name": "x-search", "kind": "x", "bearer_token": {"$env": "KUULO_X_TOKEN"}}
    assert validate_item(settings, store, "source", body) == []
    store.save_catalog_item("source", "x-search", body, "ann", NOW)

    merged, problems = merged_settings(settings, store)
    assert problems == []
    [source] = [s for s in merged.resolved_sources() if s.name == "x-search"]
    assert source.disabled_reason is None
    token = source.settings.options["bearer_token"]
    assert token.get_secret_value() == "s3cr3t-token"
    assert "s3cr3t" not in repr(merged)
    assert "s3cr3t" not in str(store.catalog_items())

    monkeypatch.delenv("KUULO_X_TOKEN")  # unset: the source is disabled and says which variable
    merged, _ = merged_settings(settings, store)
    [source] = [s for s in merged.resolved_sources() if s.name == "x-search"]
    assert "KUULO_X_TOKEN" in (source.disabled_reason or "")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"$env": "AWS_SECRET_ACCESS_KEY"}, "starts with KUULO_"),
        ({"$env": "KUULO_x; rm"}, "starts with KUULO_"),
        ({"$file": "/etc/shadow"}, "only be named in the config file"),
    ],
)
def test_only_kuulo_variables_may_be_named_from_the_dashboard(
    settings: Settings, store: SqliteStore, secret: dict[str, str], message: str
) -> None:
    body = {"name": "x-search", "kind": "x", "bearer_token": secret}
    errors = fields(validate_item(settings, store, "source", body))
    assert message in errors["bearer_token"]
    store.save_catalog_item("source", "x-search", body, "ann", NOW)  # stored behind its back
    merged, problems = merged_settings(settings, store)
    assert "x-search" not in [s.name for s in merged.sources]
    assert problems


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://[::1]/feed",
        "http://10.1.2.3/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/feed",
    ],
)
def test_feed_urls_to_internal_addresses_are_refused(
    settings: Settings, store: SqliteStore, url: str
) -> None:
    errors = fields(validate_item(settings, store, "source", feed(url=url)))
    assert "private or internal address" in errors["url"]


def test_a_file_url_is_refused(settings: Settings, store: SqliteStore) -> None:
    errors = fields(validate_item(settings, store, "source", feed(url="file:///etc/passwd")))
    assert errors == {"url": "Feed addresses must start with http:// or https://."}


def test_allow_private_feed_hosts_lifts_the_guard(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG + "\n[dashboard]\nallow_private_feed_hosts = true\n")
    settings = load_settings(config, environ=ENV)
    with open_store(settings.database_path()) as store:
        assert validate_item(settings, store, "source", feed(url="http://127.0.0.1/f")) == []


# -- merged_settings -----------------------------------------------------------------------------


def test_merged_settings_add_database_items_with_their_origin(
    settings: Settings, store: SqliteStore
) -> None:
    store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    store.save_catalog_item("source", "initech-blog", feed(brands=["Initech"]), "ana", NOW)
    store.save_catalog_item("rule", "initech-alerts", rule(brands=["Initech"]), "ana", NOW)

    merged, problems = merged_settings(settings, store)
    assert problems == []
    assert [b.name for b in merged.brands] == ["Acme", "Initech"]
    assert [s.name for s in merged.sources] == ["acme-news", "initech-blog"]
    assert [r.name for r in merged.rules] == ["negative-now", "initech-alerts"]
    assert merged.sources[1].every == timedelta(minutes=15)
    assert item_origin(merged, "brand", "Initech") == "dashboard"
    assert item_origin(merged, "brand", "Acme") == "config"
    assert item_origin(merged, "source", "initech-blog") == "dashboard"
    assert item_origin(merged, "rule", "negative-now") == "config"
    assert item_origin(merged, "rule", "nope") is None
    assert [s.name for s in merged.resolved_sources()] == ["acme-news", "initech-blog"]
    assert [b.name for b in merged.brand_objects()] == ["Acme", "Initech"]
    # merging merged settings again replaces the database items instead of doubling them
    again, problems = merged_settings(merged, store)
    assert problems == []
    assert again == merged
    assert config_only(merged) == settings


def test_an_item_that_no_longer_validates_is_left_out_and_reported(
    settings: Settings, store: SqliteStore
) -> None:
    store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    store.save_catalog_item("source", "initech-blog", feed(brands=["Initech"]), "ana", NOW)
    store.save_catalog_item("rule", "initech-alerts", rule(sources=["initech-blog"]), "ana", NOW)
    store.save_catalog_item("brand", "Broken", brand("Broken", query="(open"), "ana", NOW)
    store.save_catalog_item("source", "old-plugin", feed("old-plugin", kind="gone"), "ana", NOW)
    store.delete_catalog_item("brand", "Initech")  # the source and, through it, the rule break

    merged, problems = merged_settings(settings, store)
    assert [b.name for b in merged.brands] == ["Acme"]
    assert [s.name for s in merged.sources] == ["acme-news"]
    assert [r.name for r in merged.rules] == ["negative-now"]
    lines = [str(p) for p in problems]
    assert lines[0].startswith("database: brand 'Broken', key 'query': ")
    assert lines[1:] == [
        "database: rule 'initech-alerts', key 'sources': There is no source named 'initech-blog'.",
        "database: source 'initech-blog', key 'brands': There is no brand named 'Initech'.",
        "database: source 'old-plugin', key 'kind': Unknown source type 'gone' (available:"
        " google_news, hackernews, reddit, rss, x).",
    ]


def test_a_database_item_named_like_a_config_item_is_reported(
    settings: Settings, store: SqliteStore
) -> None:
    store.save_catalog_item("brand", "Acme", brand("Acme", query="Other"), "ana", NOW)
    merged, problems = merged_settings(settings, store)
    assert [b.query for b in merged.brands] == ["Acme"]
    assert [p.key for p in problems] == ["name"]


def test_paused_sources_and_rules_are_disabled(settings: Settings, store: SqliteStore) -> None:
    store.save_catalog_item("source", "initech-blog", feed(), "ana", NOW)
    store.save_catalog_item("rule", "initech-alerts", rule(), "ana", NOW)
    for kind, name in [
        ("source", "initech-blog"), ("rule", "initech-alerts"),
        ("source", "acme-news"), ("rule", "negative-now"),
    ]:  # fmt: skip
        store.set_catalog_paused(kind, name, True, "ana", NOW)  # type: ignore[arg-type]

    merged, problems = merged_settings(settings, store)
    assert problems == []
    assert [s.enabled for s in merged.sources] == [False, False]
    assert [r.enabled for r in merged.rules] == [False, False]
    reasons = [s.disabled_reason for s in merged.resolved_sources()]
    assert reasons == ["paused in the dashboard", "paused in the dashboard"]
    assert merged.paused_items == {
        ("source", "initech-blog"), ("rule", "initech-alerts"),
        ("source", "acme-news"), ("rule", "negative-now"),
    }  # fmt: skip
    assert item_origin(merged, "source", "acme-news") == "config"  # an override is no origin

    store.set_catalog_paused("rule", "negative-now", False, "ana", NOW)
    merged, _ = merged_settings(settings, store)
    assert [r.enabled for r in merged.rules] == [True, False]


def test_merge_checks_the_url_shape_but_leaves_addresses_to_the_connection(
    settings: Settings, store: SqliteStore
) -> None:
    """No DNS lookups on every reload; the guarded session refuses internal addresses."""
    store.save_catalog_item("source", "meta", feed("meta", url="http://169.254.169.254/"), "a", NOW)
    store.save_catalog_item(
        "source", "named", feed("named", url="http://feeds.invalid/x"), "a", NOW
    )
    store.save_catalog_item("source", "local", feed("local", url="file:///etc/passwd"), "a", NOW)
    merged, problems = merged_settings(settings, store)
    assert [s.name for s in merged.sources] == ["acme-news", "meta", "named"]
    assert [(p.table, p.key) for p in problems] == [("database: source 'local'", "url")]


def test_load_merged_opens_the_database_read_only(settings: Settings, tmp_path: Path) -> None:
    assert load_merged(settings) == (settings, [])  # no database file yet
    with open_store(settings.database_path()) as store:
        store.save_catalog_item("brand", "Initech", brand(), "ana", NOW)
    merged, problems = load_merged(settings)
    assert problems == []
    assert item_origin(merged, "brand", "Initech") == "dashboard"
