"""``kuulo users`` through click's CliRunner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from kuulo.cli import cli
from kuulo.store import open_store
from kuulo.store import users as users_module

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "kuulo.toml"
    path.write_text(f'[kuulo]\ndatabase = "{tmp_path / "kuulo.db"}"\n')
    return path


def users(config, *args, input=None):
    return CliRunner().invoke(cli, ["--config", str(config), "users", *args], input=input)


def verify(config, name, password):
    with open_store(config.parent / "kuulo.db") as store:
        return store.verify_user(name, password, NOW).user


def test_add_prompts_twice_and_never_echoes(config):
    result = users(config, "add", "Ann", "--role", "admin", input="s3cret pass\ns3cret pass\n")
    assert result.exit_code == 0, result.output
    assert "added ann (admin)" in result.output
    assert "s3cret" not in result.output
    assert verify(config, "ann", "s3cret pass").role == "admin"


def test_add_refuses_mismatched_short_or_duplicate(config):
    result = users(config, "add", "ann", "--role", "agent", input="one password\nanother\n" * 3)
    assert result.exit_code != 0
    assert users(config, "add", "ann", "--role", "agent", "--password-stdin",
                 input="short\n").exit_code == 1  # fmt: skip
    assert users(config, "add", "ann", "--role", "agent", "--password-stdin",
                 input="long enough\n").exit_code == 0  # fmt: skip
    again = users(config, "add", "ann", "--role", "agent", "--password-stdin", input="x" * 9)
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert users(config, "add", "bob", "--role", "root", "--password-stdin").exit_code == 2


def test_list_set_role_disable_enable_passwd(config):
    assert "kuulo users add NAME --role admin" in users(config, "list").output
    users(config, "add", "ann", "--role", "viewer", "--password-stdin", input="first pass\n")
    assert users(config, "set-role", "ann", "agent").exit_code == 0
    assert users(config, "disable", "ann").exit_code == 0
    listed = users(config, "list").output
    assert "ann" in listed
    assert "agent" in listed
    assert "disabled" in listed
    assert verify(config, "ann", "first pass") is None
    assert users(config, "enable", "ann").exit_code == 0
    result = users(config, "passwd", "ann", "--password-stdin", input="second pass\n")
    assert result.exit_code == 0, result.output
    assert verify(config, "ann", "first pass") is None
    assert verify(config, "ann", "second pass").role == "agent"
    missing = users(config, "set-role", "nobody", "admin")
    assert missing.exit_code == 1
    assert "no user named 'nobody'" in missing.output
