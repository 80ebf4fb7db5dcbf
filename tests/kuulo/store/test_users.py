"""Dashboard users in the store: argon2 hashes, verification, lockout, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from kuulo.store import open_store
from kuulo.store import users as users_module
from kuulo.store.users import LOCKOUT, MAX_FAILURES, role_allows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    monkeypatch.setattr(users_module, "hasher", CHEAP)
    monkeypatch.setattr(users_module, "_dummy", {})


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "kuulo.db") as opened:
        opened.create_user("Ann", "correct horse", "agent", NOW)
        yield opened


def stored_hash(store, name: str) -> str:
    return store.db.execute(
        "SELECT password_hash FROM users WHERE username = ?", [name]
    ).fetchone()[0]


def test_password_is_stored_only_as_an_argon2id_hash(store):
    digest = stored_hash(store, "ann")
    assert digest.startswith("$argon2id$")
    assert "correct horse" not in digest
    row = store.db.execute("SELECT * FROM users").fetchone()
    assert not any(isinstance(v, str) and "correct horse" in v for v in row)


def test_verify_right_and_wrong_passwords(store):
    ok = store.verify_user("ANN ", "correct horse", NOW)
    assert ok.user is not None
    assert (ok.user.username, ok.user.role) == ("ann", "agent")
    assert store.verify_user("ann", "wrong horse", NOW).user is None
    assert store.verify_user("nobody", "correct horse", NOW).user is None


def test_usernames_are_unique_and_checked(store):
    with pytest.raises(ValueError, match="already exists"):
        store.create_user("ann", "another pass", "viewer", NOW)
    with pytest.raises(ValueError, match="username"):
        store.create_user("bad name!", "another pass", "viewer", NOW)
    with pytest.raises(ValueError, match="role"):
        store.create_user("bob", "another pass", "root", NOW)
    with pytest.raises(ValueError, match="password"):
        store.create_user("bob", "short", "viewer", NOW)


def test_failures_lock_the_account_for_a_while(store):
    for _ in range(MAX_FAILURES - 1):
        assert store.verify_user("ann", "nope nope", NOW).locked_until is None
    locked = store.verify_user("ann", "nope nope", NOW)
    assert locked.locked_until == NOW + LOCKOUT
    during = store.verify_user("ann", "correct horse", NOW + LOCKOUT - timedelta(seconds=1))
    assert (during.user, during.locked_until) == (None, NOW + LOCKOUT)  # even the right one
    assert store.verify_user("ann", "correct horse", NOW + LOCKOUT).user is not None


def test_lockout_is_kept_in_the_database(store, tmp_path):
    for _ in range(MAX_FAILURES):
        store.verify_user("ann", "nope nope", NOW)
    with open_store(tmp_path / "kuulo.db") as other:  # another process, same file
        assert other.verify_user("ann", "correct horse", NOW).locked_until == NOW + LOCKOUT


def test_a_success_resets_the_failure_count(store):
    for _ in range(MAX_FAILURES - 1):
        store.verify_user("ann", "nope nope", NOW)
    assert store.verify_user("ann", "correct horse", NOW).user is not None
    assert store.verify_user("ann", "nope nope", NOW).locked_until is None


def test_old_parameters_are_rehashed_on_sign_in(store, monkeypatch):
    before = stored_hash(store, "ann")
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=2, memory_cost=2048))
    assert store.verify_user("ann", "correct horse", NOW).user is not None
    after = stored_hash(store, "ann")
    assert after != before
    assert "m=2048,t=2" in after


def test_roles_disable_and_new_password(store):
    assert store.set_role("ann", "viewer")
    assert store.get_user("ann").role == "viewer"
    assert not store.set_role("nobody", "admin")
    with pytest.raises(ValueError, match="role"):
        store.set_role("ann", "owner")
    assert store.set_disabled("ann", True)
    assert store.count_active_users() == 0
    assert store.verify_user("ann", "correct horse", NOW).user is None
    assert store.set_disabled("ann", False)
    assert store.set_password("ann", "battery staple")
    assert store.verify_user("ann", "correct horse", NOW).user is None
    assert store.verify_user("ann", "battery staple", NOW).user is not None
    assert [u.username for u in store.list_users()] == ["ann"]


def test_role_order():
    assert role_allows("admin", "agent")
    assert role_allows("agent", "viewer")
    assert not role_allows("viewer", "agent")
    assert not role_allows("agent", "admin")
    assert not role_allows("root", "viewer")
