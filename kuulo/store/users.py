"""Dashboard users: username, argon2 password hash, role; all of their SQL.

Passwords are hashed with argon2id (``argon2-cffi``) and never stored, logged or returned.
Verification is constant-time (argon2's own comparison); an unknown username is checked against
a dummy hash so it takes as long as a known one. Failed sign-ins are counted per user in the
database: after :data:`MAX_FAILURES` in a row the account refuses every attempt, right or
wrong, for :data:`LOCKOUT` (kept in ``users.locked_until``, so it holds across processes and
restarts). Table from migration ``m005_users``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from kuulo.clock import from_iso, to_iso

ROLES: tuple[str, ...] = ("viewer", "agent", "admin")  # each includes the ones before it
MAX_FAILURES = 5
LOCKOUT = timedelta(seconds=60)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")

hasher = PasswordHasher()  # argon2id, the library's recommended parameters
_dummy: dict[str, str] = {}  # a hash to verify unknown usernames against (made on first use)


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    disabled: bool = False
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class SignInResult:
    """``user`` when the password was right; ``locked_until`` when the account is locked."""

    user: User | None = None
    locked_until: datetime | None = None


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (admin > agent > viewer)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def clean_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise ValueError(
            "a username is 1-64 characters: letters, digits and . _ @ - (starting with a "
            "letter or digit)"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (use one of: {', '.join(ROLES)})")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return password


class UserStore(Protocol):
    """The users half of the store contract (see :class:`kuulo.store.Store`)."""

    def create_user(self, username: str, password: str, role: str, now: datetime) -> User: ...
    def verify_user(self, username: str, password: str, now: datetime) -> SignInResult: ...
    def get_user(self, username: str) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def count_active_users(self) -> int: ...
    def set_role(self, username: str, role: str) -> bool: ...
    def set_disabled(self, username: str, disabled: bool) -> bool: ...
    def set_password(self, username: str, password: str) -> bool: ...


class UserQueries:
    """Mixed into the SQLite store; needs ``self.db`` and ``self.write()``."""

    db: Database
    write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def create_user(self, username: str, password: str, role: str, now: datetime) -> User:
        name = clean_username(username)
        digest = hasher.hash(check_password(password))
        with self.write() as conn:
            try:
                conn.execute(
                    "INSERT INTO users (username, password_hash, role, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    [name, digest, check_role(role), to_iso(now)],
                )
            except sqlite3.IntegrityError:
                raise ValueError(f"user {name!r} already exists") from None
        return User(name, role, False, to_iso(now))

    def verify_user(self, username: str, password: str, now: datetime) -> SignInResult:
        """Check a password; counts failures, locks after too many, rehashes old hashes."""
        name = username.strip().lower()
        with self.write() as conn:
            row = conn.execute(
                "SELECT password_hash, role, disabled, created_at, failures, locked_until"
                " FROM users WHERE username = ?",
                [name],
            ).fetchone()
            if row is None:
                _verify(_dummy_hash(), password)  # same work as for a real user
                return SignInResult()
            digest, role, disabled, created_at, failures, locked_until = row
            if locked_until and from_iso(locked_until) > now:
                return SignInResult(locked_until=from_iso(locked_until))
            if not _verify(digest, password) or disabled:
                failures = failures + 1 if not disabled else failures
                lock = to_iso(now + LOCKOUT) if failures >= MAX_FAILURES else None
                conn.execute(
                    "UPDATE users SET failures = ?, locked_until = ? WHERE username = ?",
                    [0 if lock else failures, lock, name],
                )
                return SignInResult(locked_until=from_iso(lock) if lock else None)
            if hasher.check_needs_rehash(digest):
                digest = hasher.hash(password)
            conn.execute(
                "UPDATE users SET failures = 0, locked_until = NULL, password_hash = ?,"
                " last_sign_in_at = ? WHERE username = ?",
                [digest, to_iso(now), name],
            )
        return SignInResult(user=User(name, role, False, created_at))

    def get_user(self, username: str) -> User | None:
        rows = self._users(" WHERE username = ?", [username.strip().lower()])
        return rows[0] if rows else None

    def list_users(self) -> list[User]:
        return self._users("", [])

    def count_active_users(self) -> int:
        (count,) = self.db.execute("SELECT count(*) FROM users WHERE NOT disabled").fetchone()
        return int(count)

    def set_role(self, username: str, role: str) -> bool:
        return self._update("role = ?", [check_role(role)], username)

    def set_disabled(self, username: str, disabled: bool) -> bool:
        return self._update("disabled = ?", [int(disabled)], username)

    def set_password(self, username: str, password: str) -> bool:
        """A new password; also lifts a lockout."""
        digest = hasher.hash(check_password(password))
        return self._update(
            "password_hash = ?, failures = 0, locked_until = NULL", [digest], username
        )

    def _update(self, assignments: str, params: list[Any], username: str) -> bool:
        with self.write() as conn:
            cur = conn.execute(
                f"UPDATE users SET {assignments} WHERE username = ?",
                [*params, username.strip().lower()],
            )
        return cur.rowcount > 0

    def _users(self, where: str, params: list[Any]) -> list[User]:
        rows = self.db.execute(
            f"SELECT username, role, disabled, created_at FROM users{where} ORDER BY username",
            params,
        ).fetchall()
        return [User(r[0], r[1], bool(r[2]), r[3]) for r in rows]


def _dummy_hash() -> str:
    if "hash" not in _dummy:
        _dummy["hash"] = hasher.hash("kuulo: no such user")
    return _dummy["hash"]


def _verify(digest: str, password: str) -> bool:
    try:
        return hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
