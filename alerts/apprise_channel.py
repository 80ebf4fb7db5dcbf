"""The ``apprise`` channel kind: email, Slack, Discord, Teams, Telegram, webhooks, ...

One target per URL in ``[[channels]] urls``. Each send builds a fresh ``Apprise()`` with
apprise's own retries off (``retry=0`` is its default): kuulo's outbox does the retrying, with
backoff, across restarts. Email gets the HTML template (apprise adds the plain-text part,
converted from it); everything else gets the chat-safe text template.

The alert key travels in an ``X-Kuulo-Alert-Key`` header (email and json:// webhooks) rather
than in ``Message-ID``: apprise always sets its own Message-ID *after* custom headers
(``email/base.py``: ``base["Message-ID"] = make_msgid(...)``), so a second one would make the
message carry two. ``X-Kuulo-Alert-Keys`` lists the alerts a grouped message carries (as many
as fit one header line), and the HTML part ends with a ``<!-- kuulo-alert-keys: ... -->``
comment listing them all (up to 1,000, percent-encoded); json:// bodies get ``alert_key``,
``alert_count`` and ``alert_keys``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import apprise
from apprise.common import NotifyFormat
from apprise.plugins.email import NotifyEmail

from alerts.classify import classify, scrub, secret_fragments
from alerts.observe import apprise_debug_capture, observe_http
from alerts.render import header_safe, header_token, render_html, render_text
from kuulo.alert_model import AlertMessage
from kuulo.errors import AlertError
from kuulo.protocols import ChannelContext
from kuulo.settings_alerts import ChannelSettings

HEADER_CHARS = 800
BODY_KEYS = 1000


class AppriseChannel:
    """Sends alert messages through apprise; failures become classified AlertErrors."""

    kind: ClassVar[str] = "apprise"

    def __init__(self, settings: ChannelSettings, ctx: ChannelContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self._secrets = [f for i in range(self.targets) for f in secret_fragments(settings.url(i))]

    @classmethod
    def check_settings(cls, settings: ChannelSettings) -> list[str]:
        """Problems with the URLs, for ``load_settings``; never echoes a URL."""
        problems = []
        for i in range(len(settings.urls)):
            with apprise_debug_capture():
                plugin = apprise.Apprise.instantiate(settings.url(i))
            if plugin is None:
                scheme = settings.url(i).partition("://")[0][:20] or "none"
                problems.append(f"URL #{i + 1} is not a valid apprise URL (scheme {scheme!r})")
        return problems

    @property
    def targets(self) -> int:
        return len(self.settings.urls)

    def describe(self, target: int) -> str:
        """The URL as apprise prints it with secrets masked, scrubbed once more to be sure."""
        with apprise_debug_capture():
            plugin: Any = apprise.Apprise.instantiate(self.settings.url(target))
        shown = plugin.url(privacy=True) if plugin is not None else "(invalid URL)"
        return scrub(f"{self.settings.name}[{target}] {shown}", self._secrets)

    def send(self, message: AlertMessage, target: int) -> None:
        with apprise_debug_capture():
            plugin = apprise.Apprise.instantiate(self.settings.url(target))
        if plugin is None:
            raise AlertError(f"{self.settings.name}: not a valid apprise URL", broken=True)
        email = isinstance(plugin, NotifyEmail)
        _decorate(plugin, message)
        sender = apprise.Apprise()
        sender.add(plugin)
        with apprise_debug_capture(), observe_http() as answers:
            result = sender.notify(
                body=render_html(message) if email else render_text(message),
                title=header_safe(message.title),
                body_format=NotifyFormat.HTML if email else NotifyFormat.TEXT,
                log_level=logging.DEBUG,
            )
        with result:
            if result:
                return
            messages = [entry.message for entry in result.logs()]
            timed_out = any(r.status.name == "TIMEOUT" for r in result)
        service = str(getattr(plugin, "service_name", None) or "apprise")
        error = classify(f"{self.settings.name} ({service})", messages, answers, timed_out)
        error.message = scrub(error.message, self._secrets)
        error.args = (error.message,)
        raise error


def _fitting_keys(message: AlertMessage) -> str:
    """As many keys as fit one header line (SMTP servers refuse lines over 998 bytes, and
    apprise does not fold custom headers); the email's HTML carries the full list."""
    shown: list[str] = []
    for key in message.alert_keys:
        token = header_token(key)
        if sum(len(k) + 2 for k in shown) + len(token) > HEADER_CHARS:
            shown.append(f"+{message.count - len(shown)} more")
            break
        shown.append(token)
    return ", ".join(shown)


def _decorate(plugin: Any, message: AlertMessage) -> None:
    """Put the alert keys where the sink can count them: headers and JSON body fields."""
    headers = {
        "X-Kuulo-Alert-Key": header_token(message.key),
        "X-Kuulo-Alert-Count": str(message.count),
    }
    if message.alert_keys:
        headers["X-Kuulo-Alert-Keys"] = _fitting_keys(message)
    if isinstance(getattr(plugin, "headers", None), dict):
        plugin.headers.update(headers)
    if isinstance(getattr(plugin, "payload_extras", None), dict):
        plugin.payload_extras.update(
            alert_key=message.key,
            alert_count=message.count,
            alert_keys=list(message.alert_keys[:BODY_KEYS]),
        )
