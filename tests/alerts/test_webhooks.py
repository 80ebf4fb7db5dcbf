"""Webhooks through apprise's ``json://`` to pytest-httpserver on loopback, on a fake clock:
5xx retried, 429 Retry-After honoured, 400/404 dead-lettered, 401/403 break the channel, the
body carries the alert keys and chat markup arrives defused (reliability.md F4-F6, S7).

Slack and Discord URLs cannot point at a custom host in apprise (``hooks.slack.com`` and
``discord.com`` are fixed), so their escaping is checked on the rendered body here and in
``test_render.py``; the generic JSON webhook carries the same text.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kuulo.clock import from_iso
from tests.alerts.helpers import Harness, channel_toml, load, mention, rule_toml

WEBHOOK_PASSWORD = "CANARY-hook-pass-91c2"


class Sink:
    """A webhook that answers from a script, then 200; counts keys of accepted posts."""

    def __init__(self, server: HTTPServer, path: str = "/hook") -> None:
        self.script: list[tuple[int, dict[str, str], str]] = []
        self.accepted: list[dict] = []
        self.requests: list[Request] = []
        server.expect_request(path).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        status, headers, body = self.script.pop(0) if self.script else (200, {}, "ok")
        if status == 200:
            self.accepted.append(json.loads(request.data))
        return Response(body, status=status, headers=headers)

    def keys(self) -> Counter[str]:
        return Counter(k for body in self.accepted for k in body["alert_keys"])


@pytest.fixture
def sink(httpserver: HTTPServer) -> Sink:
    return Sink(httpserver)


def webhook_url(server: HTTPServer, path: str = "/hook") -> str:
    return f"json://kuulo:{WEBHOOK_PASSWORD}@127.0.0.1:{server.port}{path}"


@pytest.fixture
def h(tmp_path, httpserver):
    body = channel_toml("hook", "HOOK") + rule_toml("negative", ["hook"])
    h = Harness(load(tmp_path, body, {"HOOK": webhook_url(httpserver)}))
    h.add(mention("1", "Acme is awful"))
    h.score()
    yield h
    h.close()


def attempts(h: Harness) -> list[tuple[str, str | None]]:
    return [(a["outcome"], a["error"]) for a in h.store.alert_attempts()]


def test_500_500_500_200_is_delivered_exactly_once_with_backoff(h, sink):
    sink.script = [(500, {}, "boom")] * 3
    h.run(600, step=1)
    assert sink.keys() == {"negative:reviews:1": 1}
    assert [o for o, _ in attempts(h)] == ["transient"] * 3 + ["sent"]
    assert attempts(h)[0][1] == "hook (JSON): HTTP 500 (server error, will retry)"
    times = [from_iso(a["at"]) for a in h.store.alert_attempts()]
    assert all((b - a).total_seconds() >= 5 for a, b in pairwise(times))
    [body] = sink.accepted
    assert (body["alert_key"], body["alert_count"]) == ("negative:reviews:1", 1)
    assert sink.requests[0].authorization is not None  # the URL's credentials were used


def test_a_healthy_receiver_is_not_notified_again_while_another_retries(tmp_path, httpserver):
    bad, good = Sink(httpserver, "/bad"), Sink(httpserver, "/good")
    bad.script = [(500, {}, "boom")] * 5
    body = channel_toml("bad", "BAD") + channel_toml("good", "GOOD")
    body += rule_toml("negative", ["bad", "good"])
    env = {"BAD": webhook_url(httpserver, "/bad"), "GOOD": webhook_url(httpserver, "/good")}
    h = Harness(load(tmp_path, body, env))
    h.add(mention("1", "Acme is awful"))
    h.score()
    h.run(900)
    assert good.keys() == {"negative:reviews:1": 1}
    assert bad.keys() == {"negative:reviews:1": 1}
    assert len(good.requests) == 1
    h.close()


def http_date_in(seconds: float) -> str:
    """An HTTP-date that far from the real now (apprise's request happens in real time)."""
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "body", "wait"),
    [
        (lambda: {"Retry-After": "7"}, "slow down", 7),
        (lambda: {"Retry-After": http_date_in(31)}, "slow down", 30),
        (dict, '{"message": "You are being rate limited.", "retry_after": 9.5}', 9.5),
    ],
    ids=["seconds", "http-date", "discord-json-body"],
)
def test_429_retry_after_is_honoured(h, sink, headers, body, wait):
    sink.script = [(429, headers(), body)]
    h.run(30, step=1)
    [first] = h.store.alert_attempts()
    assert first["outcome"] == "transient"
    delay = (from_iso(first["retry_at"]) - from_iso(first["at"])).total_seconds()
    assert wait - 1 <= delay <= wait + 5 + 1  # >= Retry-After, <= Retry-After + base jitter
    h.run(wait - 2, step=1)
    assert len(sink.requests) == 1  # nothing before Retry-After
    h.run(10, step=1)
    assert sink.keys() == {"negative:reviews:1": 1}


def test_an_absurd_retry_after_is_clamped(h, sink):
    sink.script = [(429, {"Retry-After": "999999"}, "")]
    h.run(30)
    [first] = h.store.alert_attempts()
    delay = (from_iso(first["retry_at"]) - from_iso(first["at"])).total_seconds()
    assert 3600 <= delay <= 3600 + 5


@pytest.mark.parametrize("status", [400, 404])
def test_400_and_404_are_dead_lettered_after_one_attempt(h, sink, status):
    sink.script = [(status, {}, "no")] * 10
    h.run(1800)
    assert len(sink.requests) == 1
    assert attempts(h) == [("permanent", f"hook (JSON): HTTP {status} (rejected, not retried)")]
    assert h.rows()[0]["status"] == "dead"


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_mark_the_channel_broken(h, sink, status):
    sink.script = [(status, {}, "denied")] * 10
    for minute in range(60):
        h.add(mention(f"m{minute}", "Acme is awful"))
        h.score()
        h.run(60)
    assert 1 <= len(sink.requests) <= 3  # probed at most three times an hour
    assert {o for o, _ in attempts(h)} == {"broken"}
    state = h.store.channel_states()["hook"]
    assert state["broken_at"] is not None
    assert f"HTTP {status}" in state["broken_reason"]
    assert h.store.alert_counts()["dead"] >= 1


def test_chat_markup_in_mentions_arrives_defused(tmp_path, httpserver, sink):
    body = channel_toml("hook", "HOOK") + rule_toml("negative", ["hook"])
    h = Harness(load(tmp_path, body, {"HOOK": webhook_url(httpserver)}))
    text = (
        "Acme is awful <!channel> <!here> @everyone @here <https://evil.example|bank.com>"
        " [x](https://evil.example)"
    )
    h.add(mention("1", text, author_name="<@&123> @everyone"))
    h.score()
    h.run(30)
    [accepted] = sink.accepted
    message = accepted["message"]
    for bad in ("<!channel>", "<!here>", "@everyone", "@here", "<https://", "](", "<@&"):
        assert bad not in message
    assert "evil.example" in message  # shown, but not as a link in disguise
    h.close()
