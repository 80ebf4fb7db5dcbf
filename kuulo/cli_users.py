"""``kuulo users``: dashboard sign-in accounts (add, list, set-role, disable, enable, passwd).

Registered on the ``kuulo`` group with ``cli.add_command(users_group)``. This module does not
import :mod:`kuulo.cli` (no cycle). Passwords are prompted twice without echo, or read from the
first line of stdin with ``--password-stdin`` (for scripts); they are never printed or logged.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import click

from kuulo.clock import utcnow
from kuulo.settings import Settings
from kuulo.store import Store, open_store
from kuulo.store.users import ROLES, check_password

_ROLE = click.Choice(ROLES)
_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


@contextmanager
def _store(ctx: click.Context) -> Iterator[Store]:
    state: _HasSettings = ctx.obj
    with open_store(state.settings.database_path()) as store:
        yield store


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    try:
        return check_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _done(changed: bool, username: str, what: str) -> None:
    if not changed:
        raise click.ClickException(f"no user named {username!r} (see `kuulo users list`)")
    click.echo(f"{username}: {what}")


@click.group("users")
def users_group() -> None:
    """Dashboard sign-in users and their roles: viewer (read), agent (inbox actions), admin."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=_ROLE, required=True, help="viewer, agent or admin.")
@_STDIN
@click.pass_context
def add(ctx: click.Context, username: str, role: str, password_stdin: bool) -> None:
    """Create USERNAME with a ROLE; the password is asked for twice."""
    password = _password(password_stdin)
    with _store(ctx) as store:
        try:
            user = store.create_user(username, password, role, utcnow())
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added {user.username} ({user.role})")


@users_group.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """Every user: name, role, created, and whether it is disabled."""
    with _store(ctx) as store:
        users = store.list_users()
    if not users:
        click.echo("no users yet: kuulo users add NAME --role admin")
    for user in users:
        state = "  disabled" if user.disabled else ""
        click.echo(f"{user.username:<24} {user.role:<7} {user.created_at[:10]}{state}")


@users_group.command("set-role")
@click.argument("username")
@click.argument("role", type=_ROLE)
@click.pass_context
def set_role(ctx: click.Context, username: str, role: str) -> None:
    """Give USERNAME another ROLE (takes effect on the user's next page load)."""
    with _store(ctx) as store:
        _done(store.set_role(username, role), username, f"role {role}")


@users_group.command("disable")
@click.argument("username")
@click.pass_context
def disable(ctx: click.Context, username: str) -> None:
    """Stop USERNAME signing in; an open session ends on its next page load."""
    with _store(ctx) as store:
        _done(store.set_disabled(username, True), username, "disabled")


@users_group.command("enable")
@click.argument("username")
@click.pass_context
def enable(ctx: click.Context, username: str) -> None:
    """Let a disabled USERNAME sign in again."""
    with _store(ctx) as store:
        _done(store.set_disabled(username, False), username, "enabled")


@users_group.command("passwd")
@click.argument("username")
@_STDIN
@click.pass_context
def passwd(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (also lifts a sign-in lockout)."""
    password = _password(password_stdin)
    with _store(ctx) as store:
        _done(store.set_password(username, password), username, "password changed")
