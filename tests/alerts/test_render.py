"""Templates and the values that reach headers and chat (reliability.md S5, S7)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy

import pytest
from apprise.plugins.email import NotifyEmail
from hypothesis import given
from hypothesis import strategies as st

from alerts.render import defuse_chat, header_safe, header_token, render_html, render_text
from kuulo.alert_model import AlertItem, AlertMessage
from kuulo.messages import safe_url

WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def message(**item_fields) -> AlertMessage:
    fields = {
        "alert_key": "neg:reviews:1", "source_name": "reviews", "source_kind": "reddit",
        "text": "Awful support", "published_at": WHEN, "brand": "Acme", "author": "jane",
        "url": "https://www.reddit.com/r/acme/1",
    }  # fmt: skip
    item = AlertItem(**{**fields, **item_fields})
    return AlertMessage(
        key="neg:reviews:1", kind="mention", rule="neg", channel="mail", title="Acme: 1",
        count=3, created_at=WHEN, timezone="America/New_York", items=(item,),
        alert_keys=("neg:reviews:1", "neg:reviews:2", "neg:reviews:3"),
    )  # fmt: skip


INJECTIONS = [
    "x\r\nBcc: victim@evil.example",
    "x\nBcc: victim@evil.example\n",
    "=?UTF-8?Q?=0A?=Bcc: victim@evil.example",
    "==??UTF-8?Q?=0A?=Bcc: a@b",
    "x\u2028Bcc: a@b\u2029",
    "x\x85Bcc: a@b\x0b\x0c\x1c\x1d\x1e",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_header_safe_leaves_one_line_and_no_encoded_word(value):
    safe = header_safe(value)
    assert len(safe.splitlines()) == 1
    assert "=?" not in safe


@given(st.text(st.characters(codec="utf-8")))
def test_header_safe_for_any_text(value):
    safe = header_safe(value)
    assert len(safe.splitlines()) <= 1
    assert "=?" not in safe
    assert len(safe) <= 200


@pytest.mark.parametrize("value", INJECTIONS)
def test_generated_email_has_exactly_the_expected_headers(value):
    """Through apprise's own message builder, as the SMTP test does over the wire."""
    [prepared] = NotifyEmail.prepare_emails(
        subject=header_safe(f"Acme: negative mention by {value}"), body="<p>x</p>",
        from_addr=("", "kuulo@example.com"), to=[("", "owner@example.com")],
        smtp_host="example.com", headers={"X-Kuulo-Alert-Key": header_token(f"neg:{value}")},
    )  # fmt: skip
    parsed = message_from_string(prepared.body, policy=policy.default)
    names = sorted(k.lower() for k in parsed)
    assert names == sorted(
        [
            "content-type", "mime-version", "x-kuulo-alert-key", "subject", "from", "to",
            "message-id", "date",
        ]
    )  # fmt: skip
    assert prepared.to_addrs == ["owner@example.com"]
    assert "\n" not in str(parsed["Subject"])


def test_alert_keys_become_ascii_tokens():
    assert header_token("neg:reviews:a b\r\nX: y") == "neg:reviews:a%20b%0D%0AX:%20y"


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("<!channel> look", "<!channel>"),
        ("<!here|here>", "<!here"),
        ("@everyone now", "@everyone"),
        ("@Here now", "@Here"),
        ("<@&1234> role ping", "<@&"),
        ("<https://evil.example|yourbank.com>", "<https://"),
        ("[yourbank.com](https://evil.example)", "]("),
    ],
)
def test_chat_markup_is_defused(text, absent):
    assert absent not in defuse_chat(text)


def test_text_body_is_defused_everywhere_and_lists_the_essentials():
    text = render_text(message(text="<!channel> @everyone refund", author="@here"))
    assert "<!channel>" not in text
    assert "@everyone" not in text
    assert "@here" not in text
    assert "Wed 25 Nov 2026 07:00 EST" in text  # the owner's zone
    assert "Reply on Reddit: https://www.reddit.com/r/acme/1" in text
    assert "...and 2 more." in text
    assert "Alert neg:reviews:1" in text


def test_html_body_escapes_text_and_lists_every_key():
    html = render_html(message(text='<img src=x onerror="alert(1)"> refund'))
    assert "<img" not in html
    assert "&lt;img" in html
    assert "<!-- kuulo-alert-keys: neg:reviews:1 neg:reviews:2 neg:reviews:3 -->" in html
    assert '<a href="https://www.reddit.com/r/acme/1">Reply on Reddit</a>' in html


def test_no_link_without_a_safe_url():
    html = render_html(message(url=None))
    assert "Reply on" not in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/x", "https://example.com/x"),
        ("http://example.com", "http://example.com"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)", None),
        ("data:text/html,<script>", None),
        ("file:///etc/passwd", None),
        ("https://", None),
        ("//example.com/x", None),
        ("", None),
        (None, None),
    ],
)
def test_only_http_links_reach_a_message(url, expected):
    assert safe_url(url) == expected


def test_health_messages_render_their_details():
    note = AlertMessage(
        key="health:reviews", kind="health", rule="kuulo-health", channel="ops",
        title="kuulo: source reviews is failing", count=1, created_at=WHEN,
        summary="No successful run for 45 minutes.", details={"Last error": "HTTP 503"},
    )  # fmt: skip
    text = render_text(note)
    assert "No successful run for 45 minutes." in text
    assert "Last error: HTTP 503" in text
    assert "Last error" in render_html(note)
