"""Email through apprise to a real SMTP server on loopback (aiosmtpd), on a fake clock.

The sink counts deliveries per alert key (``X-Kuulo-Alert-Keys``); the handler can accept,
answer 4xx or 5xx, or drop the connection after DATA (reliability.md F1, F2, F3, S5).
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from itertools import pairwise

import pytest

from kuulo.clock import from_iso
from tests.alerts.helpers import (
    NOW,
    Harness,
    SmtpSink,
    channel_toml,
    load,
    mention,
    rule_toml,
)


@pytest.fixture
def make(tmp_path, smtp):
    made: list[Harness] = []

    def make(password: bool = False, timezone: str = "UTC", url: str | None = None) -> Harness:
        body = channel_toml("owner-email", "MAIL") + rule_toml("negative", ["owner-email"])
        env = {"MAIL": url or smtp.url(password=password)}
        h = Harness(load(tmp_path, body, env, timezone=timezone))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_the_owner_gets_one_email_with_text_html_and_a_reply_link(make, smtp):
    h = make(password=True, timezone="Europe/Helsinki")
    h.add(
        mention(
            "r1", "Acme lost my order & 3 < 4 days of waiting, I want a refund",
            author_name="Jane Doe", author_followers=1200, rating=1.0,
            published_at=NOW - timedelta(minutes=2),
        )
    )  # fmt: skip
    h.score()
    h.run(30)
    [msg] = smtp.handler.messages
    assert msg["X-Kuulo-Alert-Key"] == "negative:reviews:r1"
    assert msg["Subject"] == "Acme: negative mention on reviews by Jane Doe"
    assert smtp.handler.envelopes == [("kuulo@example.com", ["b@example.com"])]
    html, text = body(msg, "html"), body(msg, "plain")
    assert "order &amp; 3 &lt; 4 days" in html  # autoescaped
    assert '<a href="https://reviews.example/r1">Reply on reviews.example</a>' in html
    for part in (html, text):
        assert "Jane Doe" in part
        assert "1200 followers" in part
        assert "Wed 25 Nov 2026 13:58 EET" in part  # 11:58 UTC in the owner's zone
        assert "negative -0.80" in part
        assert "Why: fake: negative words" in part
        assert "rated 1" in part
    assert "Reply on reviews.example: https://reviews.example/r1" in text


def test_smtp_down_for_ten_minutes_then_back_delivers_every_alert_once(make, smtp):
    h = make()
    smtp.stop()
    for minute in range(10):  # 50 alerts become due during the outage
        h.add(*[mention(f"{minute}-{i}", "Acme is awful") for i in range(5)])
        h.score()
        h.run(60)
    assert smtp.handler.messages == []
    smtp.start()
    back = h.clock()
    h.run(h.settings.alerts.backoff_cap.total_seconds() + 20)
    keys = smtp.handler.keys()
    assert keys == {f"negative:reviews:{m}-{i}": 1 for m in range(10) for i in range(5)}
    assert len(smtp.handler.messages) == 1  # one grouped message on recovery, not 50
    attempts = h.store.alert_attempts()
    assert attempts[-1]["outcome"] == "sent"
    assert from_iso(attempts[-1]["at"]) - back <= timedelta(minutes=5, seconds=10)
    assert {a["outcome"] for a in attempts[:-1]} == {"transient"}
    assert "connection refused" in attempts[0]["error"]
    times = [from_iso(a["at"]) for a in attempts]
    assert all((b - a).total_seconds() >= 5 for a, b in pairwise(times))
    assert {r["status"] for r in h.rows()} == {"sent"}


def test_4xx_is_retried_until_accepted(make, smtp):
    h = make()
    smtp.handler.answers = ["4xx", "4xx"]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(120)
    assert smtp.handler.keys() == {"negative:reviews:1": 1}
    outcomes = [(a["outcome"], a["error"]) for a in h.store.alert_attempts()]
    assert (
        outcomes[:2]
        == [
            ("transient", "owner-email (E-Mail): SMTP 451 4.3.0 Try again later"),
        ]
        * 2
    )
    assert outcomes[2] == ("sent", None)


def test_5xx_is_dead_lettered_after_exactly_one_attempt(make, smtp):
    h = make()
    smtp.handler.mode = "5xx"
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(1800)
    [attempt] = h.store.alert_attempts()
    assert attempt["outcome"] == "permanent"
    assert "SMTP 554 5.7.1 Message rejected" in attempt["error"]
    [row] = h.rows()
    assert (row["status"], row["attempts"]) == ("dead", 1)


def test_a_drop_after_data_gives_at_most_one_duplicate_with_the_same_key(make, smtp):
    h = make()
    smtp.handler.answers = ["drop"]
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(120)
    assert smtp.handler.keys() == {"negative:reviews:1": 2}
    assert {m["X-Kuulo-Alert-Key"] for m in smtp.handler.messages} == {"negative:reviews:1"}
    assert [a["outcome"] for a in h.store.alert_attempts()] == ["ambiguous", "sent"]
    assert h.store.alert_counts()["ambiguous"] == 1


def test_a_refused_login_marks_the_channel_broken(make, smtp):
    h = make(url=smtp.url(password=True).replace("CANARY", "WRONG"))
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(60)
    [attempt] = h.store.alert_attempts()
    assert attempt["outcome"] == "broken"
    assert "SMTP 535" in attempt["error"]
    assert h.store.channel_states()["owner-email"]["broken_at"] is not None
    assert h.rows()[0]["status"] == "dead"


@pytest.mark.parametrize(
    "author",
    [
        "Jane\r\nBcc: victim@evil.example",
        "Jane\nBcc: victim@evil.example\n",
        "=?UTF-8?Q?=0A?=Bcc: victim@evil.example",
        "Jane\u2028Bcc: victim@evil.example",
        "Jane\x85Bcc: victim@evil.example\x0b\x0c",
    ],
)
def test_header_injection_in_subject_and_author_adds_no_header(make, smtp, author):
    h = make()
    h.add(mention("1", "Acme is awful", author_name=author, title=f"Subject\r\nBcc: {author}"))
    h.score()
    h.run(30)
    [raw] = smtp.handler.raw
    [msg] = smtp.handler.messages
    assert smtp.handler.envelopes == [("kuulo@example.com", ["b@example.com"])]
    headers = [k.lower() for k in msg]
    assert "bcc" not in headers
    assert headers.count("subject") == 1
    assert set(headers) <= {
        "content-type", "mime-version", "x-application", "x-kuulo-alert-key",
        "x-kuulo-alert-count", "x-kuulo-alert-keys", "subject", "from", "to", "message-id",
        "date",
    }  # fmt: skip
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in head
    assert "\n" not in str(msg["Subject"])


def test_connection_refused_is_transient(tmp_path):
    sink = SmtpSink()  # never started: nothing listens on its port
    body = channel_toml("owner-email", "MAIL") + rule_toml("negative", ["owner-email"])
    h = Harness(load(tmp_path, body, {"MAIL": sink.url()}))
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(30)
    [attempt] = h.store.alert_attempts()
    assert attempt["outcome"] == "transient"
    assert attempt["error"] == "owner-email (E-Mail): connection refused"
    h.close()
