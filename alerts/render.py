"""Rendering alert messages: Jinja2 templates, header-safe values, chat-safe text.

Mention text, authors and brands come from strangers on the internet, so:

* HTML is rendered with autoescape on; links are only ever http(s) (checked by the sender).
* Every value that ends up in a mail header goes through :func:`header_safe`: each
  ``str.splitlines()`` boundary and every ``=?`` (an RFC 2047 encoded-word opener) is removed,
  because CPython before gh-121650 / PR #122233 let newlines hidden in encoded words or at the
  end of a value through to the generated message (reliability.md S5).
* Chat text is defused by the text template's ``finalize`` hook, which runs on every ``{{ }}``
  output: ``<`` and ``>`` become look-alikes so ``<!channel>`` and ``<https://evil|bank>``
  are inert on Slack, ``@everyone``/``@here``/``@channel`` get a zero-width space so Discord
  and Slack do not ping, and ``](`` is split so Discord shows no disguised masked link (S7).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kuulo.alert_model import AlertItem, AlertMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MASS_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
_KNOWN_SOURCES = {
    "reddit": "Reddit",
    "x": "X",
    "hackernews": "Hacker News",
    "google_news": "Google News",
}
ZWSP = "\u200b"


def header_safe(value: str, limit: int = 200) -> str:
    """One header line that cannot start another header or an encoded word."""
    text = "".join(" " if _is_break(c) else c for c in value)
    while "=?" in text:
        text = text.replace("=?", "= ?")
    return " ".join(text.split())[:limit]


def _is_break(char: str) -> bool:
    # Cc covers \r \n \v \f \x1c-\x1e \x85 (and NUL, tab); Zl/Zp are U+2028 and U+2029.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def header_token(value: str, limit: int = 200) -> str:
    """An alert key as an ASCII header token (native ids may hold any character)."""
    return quote(value, safe=":/@+#._-~")[:limit]


def comment_token(value: str) -> str:
    """A key safe inside an HTML comment: no ``-``, ``>`` or spaces (percent-encoded)."""
    return quote(value, safe=":/@+#._~")


def defuse_chat(value: object) -> str:
    """Text that chat services show literally: no pings, no markup links."""
    if value is None:
        return ""
    text = str(value).replace("<", "\u2039").replace(">", "\u203a")
    text = _MASS_MENTION.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return text.replace("](", f"]{ZWSP}(")


def local_time(moment: datetime, timezone: str) -> str:
    """``Wed 25 Nov 2026 14:00 EET``: the owner's wall clock, with the zone spelled out."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def stars(rating: float) -> str:
    return f"rated {rating:g}"


def source_label(item: AlertItem) -> str:
    """Where the reply link goes: the network's name, else the link's host."""
    if item.source_kind in _KNOWN_SOURCES:
        return _KNOWN_SOURCES[item.source_kind]
    return urlsplit(item.url or "").hostname or item.source_name


def _environment(*, html: bool) -> Environment:
    """``*.html.j2`` templates autoescape; chat text is not HTML and is defused by finalize."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=None if html else defuse_chat,
    )
    env.filters.update(
        localtime=local_time, stars=stars, source_label=source_label, comment_token=comment_token
    )
    return env


_HTML = _environment(html=True)
_TEXT = _environment(html=False)


def render_html(message: AlertMessage) -> str:
    """The email body (apprise derives the plain-text part from it)."""
    return _HTML.get_template("alert.html.j2").render(message=message)


def render_text(message: AlertMessage) -> str:
    """The chat / webhook body: plain text, defused for Slack, Discord and friends."""
    return _TEXT.get_template("alert.txt.j2").render(message=message).strip() + "\n"
