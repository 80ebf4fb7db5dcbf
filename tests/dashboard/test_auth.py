"""Sign-in and roles through AppTest: loopback needs none, any other address requires it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from kuulo.model import Mention
from kuulo.normalise import Prepared, content_hash
from kuulo.store import open_store
from kuulo.store import users as users_module

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
NOW = datetime.now(UTC)
ANYWHERE = "0.0.0.0"  # noqa: S104  (only written to the config; nothing binds here)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=1024))


def mention(i: int) -> Prepared:
    text = f"mention {i} about acme"
    m = Mention("rss", "news", str(i), f"https://news.example/{i}", text,
                author_handle="ann", published_at=NOW - timedelta(hours=i))  # fmt: skip
    return Prepared(m, None, text, "en", content_hash(None, text, m.url), ("Acme",))


def make_config(tmp_path, host: str, users: dict[str, str] | None = None, extra="") -> Path:
    database = tmp_path / "kuulo.db"
    with open_store(database) as store:
        store.sync_sources([("news", "rss")], NOW)
        store.save_batch("news", [mention(i) for i in range(3)], None, NOW)
        for name, role in (users or {}).items():
            store.create_user(name, f"{name} password", role, NOW)
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f'[kuulo]\ndatabase = "{database}"\ndashboard_host = "{host}"\n\n'
        f'{extra}[[brands]]\nname = "Acme"\nquery = "acme"\n'
    )
    return path


def app(config, monkeypatch) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--config", str(config)])
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign-in-username").input(name)
    at.text_input(key="sign-in-password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def select_first(at: AppTest) -> AppTest:
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def statuses(config) -> list[tuple[str, str]]:
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        return store.db.execute("SELECT status, updated_by FROM mention_triage").fetchall()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_sign_in(tmp_path, monkeypatch, host):
    at = app(make_config(tmp_path, host), monkeypatch)
    assert [t.value for t in at.title] == ["Inbox"]
    assert not at.get("form")
    assert not [b for b in at.sidebar.button if b.key == "sign-out"]


def test_always_requires_sign_in_even_on_loopback(tmp_path, monkeypatch):
    config = make_config(tmp_path, "127.0.0.1", extra='[dashboard]\nrequire_sign_in = "always"\n')
    at = app(config, monkeypatch)
    assert not at.dataframe
    assert at.code[0].value == "kuulo users add NAME --role admin"


def test_other_address_shows_only_the_sign_in_form(tmp_path, monkeypatch):
    at = app(make_config(tmp_path, ANYWHERE, {"ann": "agent"}), monkeypatch)
    assert at.get("form")
    assert not at.dataframe
    assert "Inbox" not in [t.value for t in at.title]


def test_no_users_names_the_command_for_the_first_admin(tmp_path, monkeypatch):
    at = app(make_config(tmp_path, "192.0.2.10"), monkeypatch)
    assert not at.get("form")
    assert not at.dataframe
    assert at.code[0].value == "kuulo users add NAME --role admin"


def test_wrong_password_is_refused(tmp_path, monkeypatch):
    at = sign_in(app(make_config(tmp_path, ANYWHERE, {"ann": "agent"}), monkeypatch),
                 "ann", "not the password")  # fmt: skip
    assert "Wrong username or password." in [e.value for e in at.error]
    assert not at.dataframe
    assert "auth-user" not in at.session_state


def test_repeated_failures_lock_the_form(tmp_path, monkeypatch):
    at = app(make_config(tmp_path, ANYWHERE, {"ann": "agent"}), monkeypatch)
    for _ in range(users_module.MAX_FAILURES):
        at = sign_in(at, "ann", "not the password")
    at = sign_in(at, "ann", "ann password")
    assert "Too many failed sign-ins" in at.error[0].value
    assert not at.dataframe


def test_viewer_reads_the_inbox_but_an_action_is_refused(tmp_path, monkeypatch):
    config = make_config(tmp_path, ANYWHERE, {"vera": "viewer"})
    at = sign_in(app(config, monkeypatch), "vera", "vera password")
    assert len(at.dataframe[0].value) == 3
    assert "Signed in as **vera** (viewer)" in [c.value for c in at.sidebar.caption]
    at = select_first(at)
    assert "Read-only: inbox actions need the agent role." in [c.value for c in at.caption]
    at.button(key="inbox-replied").click().run()  # pressed anyway: refused on the server
    assert statuses(config) == []
    assert any("needs the agent role" in e.value for e in at.error)


def test_agent_marks_replied_under_its_own_name(tmp_path, monkeypatch):
    config = make_config(tmp_path, ANYWHERE, {"ann": "agent"})
    at = select_first(sign_in(app(config, monkeypatch), "ann", "ann password"))
    assert "actor" not in [t.key for t in at.sidebar.text_input]  # the acting name: the user
    at.button(key="inbox-replied").click().run()
    assert not at.exception
    assert statuses(config) == [("replied", "ann")]


def test_a_disabled_user_is_signed_out_on_the_next_run(tmp_path, monkeypatch):
    config = make_config(tmp_path, ANYWHERE, {"ann": "agent", "boss": "admin"})
    at = sign_in(app(config, monkeypatch), "ann", "ann password")
    assert at.dataframe
    assert [b.key for b in at.sidebar.button] == ["sign-out"]
    with open_store(config.parent / "kuulo.db") as store:
        store.set_disabled("ann", True)
    at.run()
    assert at.get("form")
    assert not at.dataframe


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("localhost", True), (ANYWHERE, False), ("::", False), ("192.168.1.5", False),
     ("kuulo.example.com", False), ("", False)],
)  # fmt: skip
def test_which_addresses_are_loopback(host, loopback):
    from dashboard.auth import is_loopback

    assert is_loopback(host) is loopback


def test_require_sign_in_setting_from_file_and_environment(tmp_path):
    from kuulo.errors import ConfigError
    from kuulo.settings import load_settings

    path = tmp_path / "kuulo.toml"
    path.write_text('[dashboard]\nrequire_sign_in = "always"\n')
    assert load_settings(path, {}).dashboard.require_sign_in == "always"
    env = {"KUULO_DASHBOARD__REQUIRE_SIGN_IN": "auto"}
    assert load_settings(path, env).dashboard.require_sign_in == "auto"
    path.write_text('[dashboard]\nrequire_sign_in = "never"\n')
    with pytest.raises(ConfigError, match="require_sign_in"):
        load_settings(path, {})
