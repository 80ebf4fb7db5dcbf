"""``kuulo alerts ...``: the outbox's status, a channel test, re-sending dead letters.

Registered on the main group by ``kuulo/cli.py`` (``cli.add_command(alerts_group)``); the
context object is the main group's state, whose ``.settings`` loads the configuration.
"""

from __future__ import annotations

from typing import Any

import click

from kuulo.alerting import channel_state, send_test
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.settings import Settings
from kuulo.store import open_store

alerts_group = click.Group(
    "alerts", help="Alerts: outbox status, test a channel, re-send dead letters."
)


def _settings(ctx: click.Context) -> Settings:
    state: Any = ctx.obj
    if state is None:
        raise KuuloError("the alerts commands run as `kuulo alerts ...`")
    settings: Settings = state.settings
    return settings


@alerts_group.command("status")
@click.option("--limit", default=20, show_default=True, help="Dead letters listed.")
@click.pass_context
def status(ctx: click.Context, limit: int) -> None:
    """Pending, retrying, sent and dead-lettered alerts, broken channels, last dead letters."""
    settings = _settings(ctx)
    with open_store(settings.database_path()) as store:
        counts = store.alert_counts()
        dead = store.dead_letters(limit)
        states = store.channel_states()
    click.echo(
        "alerts: {pending} pending, {retrying} retrying, {sending} sending, {sent} sent,"
        " {dead} dead-lettered ({ambiguous} ambiguous sends)".format(**counts)
    )
    for channel in settings.channels:
        state = channel_state(channel.name, channel.disabled_reason, states.get(channel.name))
        click.echo(f"channel {channel.name}: {state}")
    for row in dead:
        click.echo(
            f"  dead #{row['id']} {row['alert_key']} -> {row['channel']}[{row['target']}]"
            f" after {row['attempts']} attempt(s), {row['dead_at']}: {row['last_error']}"
        )
    if dead:
        click.echo("re-send with `kuulo alerts resend --id N` or `--all-dead`")


@alerts_group.command("test")
@click.option("--channel", "name", required=True, help="The [[channels]] name to test.")
@click.pass_context
def test(ctx: click.Context, name: str) -> None:
    """Send a test message to every URL of a channel now and report each result exactly."""
    settings = _settings(ctx)
    found = {c.name: c for c in settings.channels}
    if name not in found:
        known = ", ".join(sorted(found)) or "none configured"
        problem = f"no channel named {name!r} (known: {known})"
        raise click.BadParameter(problem, param_hint="--channel")
    checks = send_test(found[name], settings.kuulo.timezone)
    for check in checks:
        outcome = "OK" if check.ok else f"FAILED: {check.error}"
        click.echo(f"{check.where}: {outcome}")
    if not all(check.ok for check in checks):
        ctx.exit(1)
    with open_store(settings.database_path()) as store:
        store.mark_channel_ok(name)  # a working channel is no longer "broken"


@alerts_group.command("resend")
@click.option("--id", "ids", type=int, multiple=True, help="Dead letter id (repeatable).")
@click.option("--all-dead", is_flag=True, help="Every dead-lettered alert.")
@click.pass_context
def resend(ctx: click.Context, ids: tuple[int, ...], all_dead: bool) -> None:
    """Queue dead-lettered alerts again; they go out on the next tick (or `kuulo run --once`)."""
    if not ids and not all_dead:
        raise click.UsageError("give --id N (repeatable) or --all-dead")
    settings = _settings(ctx)
    with open_store(settings.database_path()) as store:
        count = store.resend_alerts(utcnow(), ids, all_dead=all_dead)
    click.echo(f"queued {count} alert(s) again")
