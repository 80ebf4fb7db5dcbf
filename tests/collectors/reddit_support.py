"""Helpers shared by the ``test_reddit*.py`` modules.

The Reddit collector through the real praw/prawcore client against a fake Reddit on loopback.

pytest-httpserver answers the client-credentials token request and serves ``Listing`` JSON from
``tests/fixtures/reddit`` (the real shapes: ``kind``, ``data.children[].data``, ``data.after``).
Normal responses carry rate-limit headers with plenty of budget left, so prawcore never sleeps.
The fixtures are dated relative to ``NOW``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.reddit import RedditCollector, RedditConfig
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings
from tests.support import collector_context

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reddit"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = 3600.0
CLIENT_ID = "test-client"
SECRET = "CANARY-reddit-secret-42"
USER_AGENT = "test:kuulo-tests:1.0 (by /u/kuulo)"
ACME_QUERY = 'Acme OR "Acme Corp"'
BUDGET_OK = {"X-Ratelimit-Remaining": "996.0", "X-Ratelimit-Used": "4", "X-Ratelimit-Reset": "372"}
PAGE_1, PAGE_2 = "search_page1.json", "search_page2.json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def listing_response(name: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        fixture(name), content_type="application/json", headers=BUDGET_OK | (headers or {})
    )


class FakeReddit:
    """The token endpoint plus listings chosen by the ``after`` parameter."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.url = server.url_for("/").rstrip("/")
        server.expect_request("/api/v1/access_token", method="POST").respond_with_data(
            fixture("token.json"), content_type="application/json"
        )

    def listing(self, path: str, pages: dict[str | None, str]) -> None:
        def handle(request: Request) -> Response:
            return listing_response(pages[request.args.get("after")])

        self.server.expect_request(path, method="GET").respond_with_handler(handle)

    def answer(self, path: str, handler: Callable[[Request], Response]) -> None:
        self.server.expect_request(path, method="GET").respond_with_handler(handler)

    def requests(self, path: str) -> list[Request]:
        return [request for request, _ in self.server.log if request.path == path]


def context(
    http: HttpSettings | None = None,
    brands: Sequence[Brand] | None = None,
    now: datetime = NOW,
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, connect_timeout=2, read_timeout=2)
    brands = [Brand("Acme", BrandQuery(ACME_QUERY))] if brands is None else brands
    return collector_context("reddit-acme", brands, settings, now, "test.reddit")


def collector(
    url: str, *, ctx: CollectorContext | None = None, secret: str = SECRET, **options: Any
) -> RedditCollector:
    config = RedditConfig(
        client_id=SecretStr(CLIENT_ID),
        client_secret=SecretStr(secret),
        user_agent=USER_AGENT,
        base_url=url,
        auth_url=url,
        **options,
    )
    return RedditCollector(config, ctx or context())


def run(c: RedditCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(c.collect(cursor))


def ids(batch: Batch) -> list[str]:
    return [m.native_id for m in batch.mentions]


def mark(created: float, *fullnames: str, scope: str = f"all {ACME_QUERY}") -> dict[str, Any]:
    return {"scope": scope, "created": created, "ids": sorted(fullnames)}
