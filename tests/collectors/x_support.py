"""Helpers shared by the ``test_x*.py`` modules.

The X collector through the real tweepy client against a loopback X, and through the pipeline.

pytest-httpserver plays ``GET /2/tweets/search/recent`` with payloads in X's v2 shapes from
``tests/fixtures/x``; the collector reaches it because its adapter rewrites tweepy's hard-coded
``https://api.twitter.com``. The clock is fixed, so rate-limit waits are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.x import XCollector, XConfig
from kuulo.errors import CollectorError
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings
from tests.support import collector_context

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "x"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EPOCH = int(NOW.timestamp())
SEARCH = "/2/tweets/search/recent"
# Shaped like a real app-only bearer token (URL-encoded base64), so a leak is unmistakable.
TOKEN = "AAAAAAAAAAAAAAAAAAAAAKuulo0000%2BfAkEtOkEn%2BnOtReAl%3DQ1w2E3r4T5y6U7i8O9p0"
PIPELINE_TOKEN = "test-token"
TOKEN_1 = "b26v89c19zqg8o3fpzbkk8mx7hx5y7z1g3l4kkzbqf8cd"
ACME = Brand("Acme", BrandQuery('(Acme OR @acme) -"acme road"'))
GLOBEX = Brand("Globex", BrandQuery("Globex"))
PAGE1_IDS = ["2125559638303748133", "2125555460776964133", "2125549496476676133"]
PAGE2_IDS = ["2125543058220036133", "2125516227257348133"]
NEW_ID = "2125560003208196133"
WINDOW_OK = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- a fake X ---------------------------------------------------------------------------------


@dataclass
class Answer:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeX:
    """``/2/tweets/search/recent``: the answer is picked by ``next_token`` (None: first page)."""

    server: HTTPServer
    answers: dict[str | None, Answer] = field(default_factory=dict)
    calls: list[dict[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(SEARCH).respond_with_handler(self.handle)

    def on(
        self, token: str | None, name: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> FakeX:
        """Answer ``token``'s request with a fixture; a 200 has a healthy rate-limit window."""
        if headers is None and status == 200:
            headers = {**WINDOW_OK, "x-rate-limit-reset": str(EPOCH + 900)}
        self.answers[token] = Answer(fixture(name), status, headers or {})
        return self

    def handle(self, request: Request) -> Response:
        self.calls.append(request.args.to_dict())
        self.auth.append(request.headers.get("Authorization", ""))
        answer = self.answers[request.args.get("next_token")]
        return Response(answer.body, answer.status, answer.headers, content_type="application/json")

    @property
    def base_url(self) -> str:
        return self.server.url_for("")


def two_pages(fake: FakeX) -> FakeX:
    return fake.on(None, "search_page1.json").on(TOKEN_1, "search_page2.json")


def context(
    brands: tuple[Brand, ...] = (ACME,), http: HttpSettings | None = None
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, connect_timeout=2, read_timeout=2)
    return collector_context("x-acme", brands, settings, NOW, "kuulo.collectors.x-acme")


def collector(
    target: FakeX | str,
    brands: tuple[Brand, ...] = (ACME,),
    http: HttpSettings | None = None,
    **options: Any,
) -> XCollector:
    base_url = target if isinstance(target, str) else target.base_url
    config = XConfig.model_validate(
        {"bearer_token": SecretStr(TOKEN), "base_url": base_url, **options}
    )
    return XCollector(config, context(brands, http))


def run(x: XCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(x.collect(cursor))


def run_until_error(
    x: XCollector, cursor: Cursor | None = None
) -> tuple[list[Batch], CollectorError]:
    """The batches yielded before the run failed, and the error it failed with."""
    batches: list[Batch] = []
    pages = x.collect(cursor)
    with pytest.raises(CollectorError) as caught:
        batches.extend(pages)
    return batches, caught.value


def by_id(batches: list[Batch]) -> dict[str, Mention]:
    return {m.native_id: m for b in batches for m in b.mentions}


def since(cursor: Cursor | None, brand: str = "Acme") -> str | None:
    return ((cursor or {}).get("brands", {}).get(brand) or {}).get("since_id")
