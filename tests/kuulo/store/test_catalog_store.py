"""The catalog tables (dashboard-created brands, sources, rules) against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuulo.store import SqliteStore, open_store
from tests.kuulo.store.store_support import LATER, NOW

BRAND = {"name": "Initech", "query": "Initech", "competitors": []}


def test_save_lists_and_bumps_the_revision(store: SqliteStore) -> None:
    assert store.catalog_items() == []
    before = store.catalog_revision()
    store.save_catalog_item("brand", "Initech", BRAND, "ana", NOW)
    store.save_catalog_item("source", "blog-feed", {"name": "blog-feed", "kind": "rss"}, "ana", NOW)

    items = store.catalog_items()
    assert [(i.kind, i.name) for i in items] == [("brand", "Initech"), ("source", "blog-feed")]
    assert items[0].body == BRAND
    assert items[0].updated_by == "ana"
    assert not items[0].paused
    assert not items[0].is_override
    assert [i.name for i in store.catalog_items("source")] == ["blog-feed"]
    assert store.catalog_revision() == before + 2


def test_saving_again_replaces_the_body_and_keeps_the_pause(store: SqliteStore) -> None:
    store.save_catalog_item("brand", "Initech", BRAND, "ana", NOW)
    store.set_catalog_paused("brand", "Initech", True, "ana", NOW)
    store.save_catalog_item("brand", "Initech", {**BRAND, "query": "Initech OR TPS"}, "bo", LATER)

    (item,) = store.catalog_items("brand")
    assert item.body["query"] == "Initech OR TPS"
    assert item.paused
    assert item.updated_by == "bo"


def test_rename_and_delete(store: SqliteStore) -> None:
    store.save_catalog_item("brand", "Initech", BRAND, "ana", NOW)
    store.rename_catalog_item("brand", "Initech", "Initrode", "ana", LATER)
    assert [i.name for i in store.catalog_items()] == ["Initrode"]

    revision = store.catalog_revision()
    assert store.delete_catalog_item("brand", "Initrode")
    assert not store.delete_catalog_item("brand", "Initrode")
    assert store.catalog_items() == []
    assert store.catalog_revision() > revision


def test_pausing_a_config_item_writes_an_override_and_resuming_removes_it(
    store: SqliteStore,
) -> None:
    store.set_catalog_paused("rule", "negative-now", True, "ana", NOW)
    (item,) = store.catalog_items("rule")
    assert item.is_override
    assert item.paused

    store.set_catalog_paused("rule", "negative-now", False, "ana", LATER)
    assert store.catalog_items("rule") == []


def test_resuming_a_database_item_keeps_it(store: SqliteStore) -> None:
    store.save_catalog_item("brand", "Initech", BRAND, "ana", NOW)
    store.set_catalog_paused("brand", "Initech", True, "ana", NOW)
    store.set_catalog_paused("brand", "Initech", False, "ana", LATER)
    (item,) = store.catalog_items("brand")
    assert not item.paused
    assert item.body == BRAND


def test_unknown_kind_is_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="unknown catalog kind"):
        store.save_catalog_item("channel", "x", {}, "ana", NOW)  # type: ignore[arg-type]


def test_a_read_only_store_sees_the_items(tmp_path: Path) -> None:
    path = tmp_path / "kuulo.db"
    with open_store(path) as writer:
        writer.save_catalog_item("brand", "Initech", BRAND, "ana", NOW)
        revision = writer.catalog_revision()
    with open_store(path, read_only=True) as reader:
        assert [i.name for i in reader.catalog_items()] == ["Initech"]
        assert reader.catalog_revision() == revision
