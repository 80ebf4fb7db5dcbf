"""Alerts: rules (add, edit, pause) and channels, the outbox and its delivery log.

The page never sends while it renders. "Re-send" only queues dead letters again (the
``kuulo run`` process delivers them on its next tick); "Send test" is an explicit admin button
that runs the same code as ``kuulo alerts test --channel NAME``. Channel URLs are secrets:
targets are shown as ``channel[n]``, and stored errors are scrubbed before they are written.
Rules from the config file are read-only here except for pausing (an override row); rules added
here live in the database (``dashboard/rule_form.py``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, rule_form
from dashboard import catalog_forms as forms
from dashboard.common import database, merged, reader, settings, writer
from kuulo.alerting import channel_state, send_test
from kuulo.clock import utcnow
from kuulo.errors import KuuloError
from kuulo.settings import Settings
from kuulo.settings_alerts import ChannelSettings, RuleSettings
from kuulo.store import CatalogItem

LOG_ROWS = 200
DEAD_ROWS = 200
FLASH = "alerts-flash"
COUNTS = {"Pending": "pending", "Retrying": "retrying", "Sent": "sent", "Dead-lettered": "dead"}
NO_ALERTS = (
    "No alerts configured. Add to the config file a `[[channels]]` entry (where alerts go:"
    ' `name = "team"`, `urls = [{ "$env" = "KUULO_TEAM_URL" }]` with an Apprise URL such as'
    " `mailto://...` or `json://...` in that environment variable) and a `[[rules]]` entry"
    ' (which mentions alert: `name = "negative"`, `channels = ["team"]`,'
    ' `sentiment = "negative"`), then restart kuulo.'
)


@st.cache_data(ttl=10, show_spinner=False)
def load(path: str) -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    with reader(path) as store:
        return (
            store.alert_counts(),
            pd.DataFrame(store.dead_letters(DEAD_ROWS)),
            pd.DataFrame(store.recent_attempts(LOG_ROWS)),
            store.channel_states(),
        )


@st.cache_data(ttl=5, show_spinner=False)
def load_rules(path: str) -> list[CatalogItem]:
    """Dashboard rules and pause overrides of config rules."""
    with reader(path) as store:
        return store.catalog_items("rule")


def require_admin() -> None:
    """The single gate for this page's actions (re-send, send test): admins only."""
    auth.require("admin")


def rule_state(rule: RuleSettings, paused: set[str]) -> str:
    if rule.name in paused:
        return "paused"
    return "enabled" if rule.enabled else "paused (enabled = false)"


def rules_table(merged: Settings, paused: set[str]) -> pd.DataFrame:
    rules = merged.rules

    def mode(r: RuleSettings) -> str:
        return f"digest ({r.digest}, {r.digest_at})" if r.mode == "digest" else r.mode

    def conditions(r: RuleSettings) -> str:
        parts = [
            f"{key} {value}"
            for key, value in (
                ("match", r.match and f'"{r.match}"'),
                ("score <=", r.max_score),
                ("reach >=", r.min_reach),
                ("rating <=", r.max_rating),
                ("languages", r.languages and ", ".join(r.languages)),
            )
            if value is not None
        ]
        return "; ".join(parts)

    return pd.DataFrame(
        {
            "Rule": [r.name for r in rules],
            "Origin": [forms.origin(merged, "rule", r.name) for r in rules],
            "State": [rule_state(r, paused) for r in rules],
            "Kind": [r.kind for r in rules],
            "Sentiment": [r.sentiment if r.kind == "mention" else "" for r in rules],
            "Brands": [", ".join(r.brands) if r.brands else "all" for r in rules],
            "Sources": [", ".join(r.sources) if r.sources else "all" for r in rules],
            "Conditions": [conditions(r) for r in rules],
            "Channels": [", ".join(r.channels) for r in rules],
            "Mode": [mode(r) for r in rules],
            "Quiet hours": [r.quiet_hours or "" for r in rules],
        }
    )


def channels_table(
    channels: tuple[ChannelSettings, ...], states: dict[str, Any], operator: str | None
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Channel": [c.name + (" (operator)" if c.name == operator else "") for c in channels],
            "Kind": [c.kind for c in channels],
            "Targets": [len(c.urls) for c in channels],
            "State": [
                channel_state(c.name, c.disabled_reason, states.get(c.name)) for c in channels
            ],
        }
    )


def log_table(attempts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "When (UTC)": pd.to_datetime(attempts["at"], utc=True),
            "Channel": attempts["channel"] + "[" + attempts["target"].astype(str) + "]",
            "Message": attempts["message_key"],
            "Alerts": attempts["alerts"],
            "Outcome": attempts["outcome"],
            "Error": attempts["error"],
            "Next try (UTC)": pd.to_datetime(attempts["retry_at"], utc=True),
        }
    )


def dead_table(dead: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ID": dead["id"],
            "Alert": dead["alert_key"],
            "Rule": dead["rule"],
            "Channel": dead["channel"] + "[" + dead["target"].astype(str) + "]",
            "Attempts": dead["attempts"],
            "Dead since (UTC)": pd.to_datetime(dead["dead_at"], utc=True),
            "Last error": dead["last_error"],
        }
    )


def flash() -> None:
    for kind, text in st.session_state.pop(FLASH, []):
        getattr(st, kind)(text)


def finish(messages: list[tuple[str, str]]) -> None:
    """Remember what happened for the next run, drop the cached reads, and re-run the page."""
    st.session_state[FLASH] = messages
    load.clear()
    st.rerun()


def resend(path: str, ids: list[int], *, all_dead: bool = False) -> None:
    require_admin()
    with writer(path) as store:
        count = store.resend_alerts(utcnow(), ids, all_dead=all_dead)
    st.session_state.pop("alerts-dead", None)  # those rows have left the table
    finish(
        [
            (
                "success",
                f"Queued {count} alert(s) again: the `kuulo run` process delivers them on its"
                " next tick (or run `kuulo run --once`).",
            )
        ]
    )


def send_test_to(path: str, channel: ChannelSettings) -> None:
    """The same code as ``kuulo alerts test --channel NAME``; results name targets only."""
    require_admin()
    try:
        with st.spinner(f"Sending a test message to {channel.name}..."):
            checks = send_test(channel, settings().kuulo.timezone)
    except KuuloError as exc:
        finish([("error", f"Test not sent: {exc}")])
        return
    messages = [
        ("success", f"{channel.name}[{c.target}]: delivered")
        if c.ok
        else ("error", f"{channel.name}[{c.target}]: FAILED: {c.error}")
        for c in checks
    ]
    if checks and all(c.ok for c in checks):
        with writer(path) as store:
            store.mark_channel_ok(channel.name)  # a working channel is no longer "broken"
    finish(messages)


def counts_row(counts: dict[str, int]) -> None:
    for column, (label, key) in zip(st.columns(len(COUNTS)), COUNTS.items(), strict=True):
        column.metric(label, f"{counts.get(key, 0):,}")
    st.caption(
        f"{counts.get('sending', 0)} being sent right now; {counts.get('ambiguous', 0)}"
        " ambiguous send(s) ever (the connection dropped after sending: may have arrived twice)."
    )


def dead_letters(path: str, dead: pd.DataFrame) -> None:
    st.subheader("Dead letters")
    if dead.empty:
        st.caption("No dead letters: nothing has failed for good.")
        return
    st.caption(
        "Alerts that failed permanently or outlived `[alerts] retention`. Fix the channel"
        " (send a test below), then re-send: they are queued again, not sent from here."
    )
    picked = st.dataframe(
        dead_table(dead),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="alerts-dead",
        column_config={
            "Dead since (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Last error": st.column_config.TextColumn(width="large"),
        },
    )
    rows = picked.selection.rows if picked else []
    ids = [int(dead["id"].iloc[i]) for i in rows if i < len(dead)]  # a selection may be stale
    left, right = st.columns(2)
    if left.button(f"Re-send {len(ids)} selected", key="alerts-resend", disabled=not ids):
        resend(path, ids)
    if right.button("Re-send all dead letters", key="alerts-resend-all"):
        resend(path, [], all_dead=True)


def tester(path: str, channels: tuple[ChannelSettings, ...]) -> None:
    st.subheader("Send a test")
    st.caption(
        "Sends a sample alert to every target of the channel now, like"
        " `kuulo alerts test --channel NAME`, and reports each result."
    )
    names = [c.name for c in channels]
    name = st.selectbox("Channel", names, key="alerts-test-channel")
    if st.button("Send test", key="alerts-test") and name:
        send_test_to(path, channels[names.index(name)])


def clear_rules() -> None:
    load_rules.clear()


def rules_section(path: str, config: Settings) -> None:
    st.subheader("Rules")
    for problem in merged()[1]:
        if problem.table.startswith("database: rule"):
            st.warning(f"Left out: {forms.escape_md(problem)}", icon=":material/warning:")
    items = load_rules(path)
    paused = {i.name for i in items if i.paused}
    if config.rules:
        st.dataframe(
            rules_table(config, paused),
            hide_index=True,
            width="stretch",
            column_config={"Conditions": st.column_config.TextColumn(width="large")},
        )
        forms.read_only_note("rules")
        rule_form.pause_controls([r.name for r in config.rules], paused, clear_rules)
    else:
        st.info("No rules yet: add one below (or `[[rules]]` in the config file).")
    if not config.channels:
        st.caption("A rule needs a channel: add a `[[channels]]` entry to the config file first.")
        return
    with st.expander("Add or edit a rule", icon=":material/add_circle:"):
        rule_form.form(config, items, clear_rules)


def page() -> None:
    auth.require("viewer")
    st.title("Alerts")
    st.caption(
        'Rules "from config" and channels are changed in the config file (then restart kuulo);'
        " rules added here live in the database, and any rule can be paused here. This page"
        " never sends by itself: `kuulo run` delivers queued alerts."
    )
    flash()
    forms.flash()
    config = settings()
    path = database()
    counts, dead, attempts, states = load(path)
    counts_row(counts)
    broken = [c.name for c in config.channels if (states.get(c.name) or {}).get("broken_at")]
    for name in broken:
        state = states[name]
        st.error(f"Channel {name} is broken since {state['broken_at']}: {state['broken_reason']}")
    if not config.channels and not config.rules:
        st.info(NO_ALERTS)
    else:
        rules_section(path, config)
        st.subheader("Channels")
        st.dataframe(
            channels_table(config.channels, states, config.alerts.operator_channel),
            hide_index=True,
            width="stretch",
            column_config={"State": st.column_config.TextColumn(width="large")},
        )
    if not auth.allows("admin"):  # the buttons stay: require_admin() refuses on the server
        st.caption("Read-only: re-sending and test messages need the admin role.")
    dead_letters(path, dead)
    if config.channels:
        tester(path, config.channels)
    st.subheader("Delivery log")
    if attempts.empty:
        st.caption("No delivery attempts yet.")
        return
    st.caption(f"The last {LOG_ROWS} send attempts, newest first (errors never hold a URL).")
    st.dataframe(
        log_table(attempts),
        hide_index=True,
        width="stretch",
        column_config={
            "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Next try (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Error": st.column_config.TextColumn(width="large"),
        },
    )
