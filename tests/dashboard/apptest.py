"""Helpers for the AppTest page tests: a private database per test, and a page opened
through ``dashboard/app.py`` (its navigation, its sign-in gate) as a browser would."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from kuulo.settings import load_settings
from kuulo.store import open_store

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


def private_copy(demo_config: Path, directory: Path) -> Path:
    """A copy of the demo's database in ``directory`` and a config pointing at it, so one
    test's clicks cannot reach another test."""
    source = load_settings(demo_config, {}).database_path()
    target = directory / "kuulo.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    path = directory / "kuulo.toml"
    path.write_text(demo_config.read_text().replace(str(source), str(target)))
    return path


def open_page(
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    page: str | None = None,
    *,
    timeout: float = 30,
    user: str | None = None,
) -> AppTest:
    """The app with fresh caches, on ``page`` (a file of ``dashboard/views/``), as ``user``
    when given (see :func:`with_sign_in`)."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--config", str(config)])
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=timeout)
    if user:
        at.session_state["auth-user"] = user
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def with_sign_in(config: Path, username: str, role: str) -> None:
    """Turn sign-in on (the dashboard listens on every address) and add a user."""
    text = config.read_text().replace("[kuulo]\n", '[kuulo]\ndashboard_host = "0.0.0.0"\n')
    config.write_text(text)
    with open_store(config.parent / "kuulo.db") as store:
        store.create_user(username, "a long enough password 1", role, datetime.now(UTC))
