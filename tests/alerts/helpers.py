"""Shared pieces for the alert tests: a fake clock, a fake scorer, seeded mentions, settings
written as TOML, a loopback SMTP sink (aiosmtpd) whose answers the test controls, and a driver
that runs score -> plan -> deliver like one scheduler tick."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from random import Random
from typing import Any, ClassVar
from urllib.parse import unquote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kuulo.alerting import Alerting, build_channels
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Mention, Score, ScoreInput
from kuulo.normalise import prepare
from kuulo.pipeline import score_pending
from kuulo.settings import Settings, load_settings
from kuulo.store import SqliteStore, open_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BRANDS = [Brand("Acme", BrandQuery("Acme")), Brand("Globex", BrandQuery("Globex"))]
SMTP_PASSWORD = "CANARY-smtp-pass-7f3a"


def seeded(seed: int) -> Random:
    """A reproducible jitter source (backoff jitter, not cryptography)."""
    return Random(seed)  # noqa: S311


class FakeClock:
    """An injected clock: tests move time, nothing sleeps."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class FakeScorer:
    """'bad', 'awful', 'refund' -> negative; 'great' -> positive; else neutral."""

    name: ClassVar[str] = "fake"
    version: ClassVar[str] = "1"

    def score(self, items: list[ScoreInput]) -> list[Score]:
        return [self._one(i.text.lower()) for i in items]

    def _one(self, text: str) -> Score:
        if any(w in text for w in ("bad", "awful", "refund")):
            return Score("negative", -0.8, "fake", "1", reason="fake: negative words")
        if "great" in text:
            return Score("positive", 0.8, "fake", "1")
        return Score("neutral", 0.0, "fake", "1")


def mention(native_id: str, text: str, source_name: str = "reviews", **fields: Any) -> Mention:
    fields.setdefault("language", "en")
    fields.setdefault("published_at", NOW - timedelta(minutes=5))
    fields.setdefault("url", f"https://reviews.example/{native_id}")
    return Mention(source="rss", source_name=source_name, native_id=native_id, text=text, **fields)


def store_mentions(store: SqliteStore, mentions: list[Mention], now: datetime = NOW) -> None:
    by_source: dict[str, list[Any]] = {}
    for m in mentions:
        by_source.setdefault(m.source_name, []).append(prepare(m, BRANDS))
    for source, items in by_source.items():
        store.save_batch(source, items, None, now)


def write_config(tmp_path: Path, body: str, *, timezone: str = "UTC") -> Path:
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f"""
[kuulo]
database = "{(tmp_path / "kuulo.db").as_posix()}"
timezone = "{timezone}"

[[brands]]
name = "Acme"
query = "Acme"

[[brands]]
name = "Globex"
query = "Globex"

[[sources]]
name = "reviews"
kind = "rss"
url = "https://reviews.example/feed.xml"
owned = true

[[sources]]
name = "news"
kind = "rss"
url = "https://news.example/feed.xml"
{body}
""",
        encoding="utf-8",
    )
    return path


def channel_toml(name: str, *variables: str) -> str:
    urls = ", ".join(f'{{ "$env" = "{v}" }}' for v in variables)
    return f'\n[[channels]]\nname = "{name}"\nkind = "apprise"\nurls = [{urls}]\n'


def rule_toml(name: str, channels: list[str], **keys: Any) -> str:
    lines = ["", "[[rules]]", f'name = "{name}"', f"channels = {_toml(channels)}"]
    lines += [f"{k} = {_toml(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def load(tmp_path: Path, body: str, environ: dict[str, str], **kw: Any) -> Settings:
    return load_settings(write_config(tmp_path, body, **kw), environ=environ)


@dataclass
class Harness:
    """score -> plan -> deliver against a real SQLite file, on a fake clock."""

    settings: Settings
    clock: FakeClock = field(default_factory=FakeClock)
    seed: int = 7
    channels: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.store = open_store(self.settings.database_path())
        assert isinstance(self.store, SqliteStore)
        self.alerting = self.restart()
        self.scorer = FakeScorer()

    def restart(self) -> Alerting:
        """A fresh Alerting, as after a process restart (the store keeps all state)."""
        channels = self.channels or build_channels(self.settings, self.clock)
        self.alerting = Alerting(self.settings, channels, clock=self.clock, rng=seeded(self.seed))
        return self.alerting

    def add(self, *mentions: Mention) -> None:
        store_mentions(self.store, list(mentions), self.clock())

    def score(self) -> int:
        return score_pending(self.store, self.scorer, 500, self.clock, planner=self.alerting.plan)

    def tick(self) -> Any:
        return self.alerting.tick(self.store)

    def run(self, seconds: float, step: float = 10) -> None:
        """Tick every ``step`` simulated seconds for ``seconds``."""
        for _ in range(int(seconds / step)):
            self.clock.advance(step)
            self.tick()

    def rows(self) -> list[dict[str, Any]]:
        return self.store.alert_rows()

    def close(self) -> None:
        self.store.close()


# -- SMTP sink ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SinkHandler:
    """Accepts, answers 4xx/5xx, or drops the connection after DATA, as the test says."""

    def __init__(self) -> None:
        self.mode = "accept"  # accept | 4xx | 5xx | drop | 535
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.raw: list[bytes] = []
        self.answers: list[str] = []  # a queue of modes for the next DATA commands

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mode = self.answers.pop(0) if self.answers else self.mode
        if mode == "4xx":
            return "451 4.3.0 Try again later"
        if mode == "5xx":
            return "554 5.7.1 Message rejected"
        self._record(envelope)
        if mode == "drop":  # the message arrived, the 250 never does (RFC 1047)
            server.transport.abort()
        return "250 2.0.0 OK"

    def _record(self, envelope: Any) -> None:
        raw = envelope.original_content or envelope.content
        self.raw.append(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))

    def keys(self) -> Counter[str]:
        """Deliveries per alert key, from the full list in the HTML part's comment."""
        found: Counter[str] = Counter()
        for msg in self.messages:
            html = msg.get_body(preferencelist=("html",))
            assert html is not None
            m = re.search(r"<!-- kuulo-alert-keys: (.*?) -->", str(html.get_content()))
            assert m is not None
            found.update(unquote(k) for k in m.group(1).split())
        return found


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok, handled=False)


class SmtpSink:
    """aiosmtpd on 127.0.0.1; ``stop()``/``start()`` simulate an outage on the same port."""

    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> SmtpSink:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port,
            authenticator=_authenticator, auth_require_tls=False,
        )  # fmt: skip
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, *, password: bool = False, to: str = "b@example.com") -> str:
        auth = f"owner:{SMTP_PASSWORD}@" if password else ""
        return f"mailto://{auth}127.0.0.1:{self.port}?from=kuulo@example.com&to={to}&mode=insecure"


class FakeChannel:
    """An in-memory channel with scripted answers: None = delivered, an AlertError = failure."""

    kind = "fake"

    def __init__(self, targets: int = 1) -> None:
        self._targets = targets
        self.script: list[Any] = []
        self.sent: list[tuple[Any, int]] = []
        self.attempts: list[tuple[Any, int]] = []

    @property
    def targets(self) -> int:
        return self._targets

    def describe(self, target: int) -> str:
        return f"fake[{target}]"

    def send(self, message: Any, target: int) -> None:
        self.attempts.append((message, target))
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append((message, target))

    def keys(self) -> Counter[str]:
        return Counter(k for m, _ in self.sent for k in m.alert_keys)
