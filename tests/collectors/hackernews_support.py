"""Helpers shared by the ``test_hackernews*.py`` modules.

Hacker News (Algolia) collector against a loopback fake of the search API.

Fixture pages in ``tests/fixtures/hackernews`` have the real response shape; ``FakeAlgolia``
answers from a list of hits and honours ``query``, ``numericFilters``, ``hitsPerPage``, ``page``
and the ~1,000-hit pagination cap, so cursor and paging logic meet a realistic server.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.hackernews import HackerNewsCollector, HackerNewsConfig
from kuulo.matching import Brand, BrandQuery
from kuulo.model import Batch, Cursor, Mention
from kuulo.protocols import CollectorContext
from kuulo.settings import HttpSettings
from tests.support import collector_context

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hackernews"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW_I = int(NOW.timestamp())
DAY_AGO = NOW_I - 86400
PATH = "/api/v1/search_by_date"
ACME = Brand("Acme", BrandQuery("Acme"))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def context(
    brands: Sequence[Brand] = (ACME,), http: HttpSettings | None = None
) -> CollectorContext:
    settings = http or HttpSettings(retries=0, read_timeout=2, backoff_factor=0)
    return collector_context("hn", brands, settings, NOW, "test.hackernews")


def collector(
    server: HTTPServer, brands: Sequence[Brand] = (ACME,), **options: Any
) -> HackerNewsCollector:
    config = HackerNewsConfig(base_url=server.url_for("/").rstrip("/"), **options)
    return HackerNewsCollector(config, context(brands))


def run(c: HackerNewsCollector, cursor: Cursor | None = None) -> list[Batch]:
    return list(c.collect(cursor))


def mentions(batches: Sequence[Batch]) -> dict[str, Mention]:
    return {m.native_id: m for b in batches for m in b.mentions}


def params(server: HTTPServer) -> list[dict[str, str]]:
    return [dict(request.args) for request, _ in server.log]


def hn_cursor(since: int, *ids: str, brand: str = "Acme") -> Cursor:
    return {"brands": {brand: {"created_at_i": since, "ids": sorted(ids)}}}


def hit(object_id: str, created: int, text: str = "Acme anvils", **extra: Any) -> dict[str, Any]:
    return {
        "_tags": ["comment", f"story_{object_id}"],
        "author": "user",
        "comment_text": text,
        "created_at": datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_at_i": created,
        "objectID": object_id,
        "parent_id": 1,
        "story_id": 1,
        "story_title": "A story",
        **extra,
    }


class FakeAlgolia:
    """search_by_date over ``hits``: newest first, filtered, paged, capped like Algolia."""

    def __init__(self, server: HTTPServer, cap: int = 1000) -> None:
        self.server = server
        self.hits: list[dict[str, Any]] = []
        self.cap = cap
        self.fail_page: int | None = None  # answer 500 to this page number, once

    def __call__(self, request: Request) -> Response:
        page, per_page = int(request.args["page"]), int(request.args["hitsPerPage"])
        if self.fail_page == page:
            self.fail_page = None
            return Response("upstream overloaded", status=500)
        term = request.args.get("query", "").strip('"').casefold()
        found = sorted(
            (h for h in self.hits if self._numeric(h, request.args.get("numericFilters", ""))),
            key=lambda h: -int(h["created_at_i"]),
        )
        found = [h for h in found if term in json.dumps(h).casefold()]
        nb_pages = min(math.ceil(len(found) / per_page), self.cap // per_page)
        shown = found[page * per_page : (page + 1) * per_page] if page < nb_pages else []
        body = {
            "hits": shown,
            "nbHits": len(found),
            "page": page,
            "nbPages": nb_pages,
            "hitsPerPage": per_page,
            "processingTimeMS": 1,
            "query": request.args.get("query", ""),
            "params": request.query_string.decode(),
        }
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")

    @staticmethod
    def _numeric(item: dict[str, Any], filters: str) -> bool:
        ops = {">": int.__gt__, ">=": int.__ge__, "<": int.__lt__, "<=": int.__le__}
        for name, op, value in re.findall(r"(\w+)(>=|<=|>|<)(\d+)", filters):
            if not ops[op](int(item[name]), int(value)):
                return False
        return True


def serve_pages(server: HTTPServer, *pages: dict[str, Any]) -> None:
    for n, page in enumerate(pages):
        server.expect_ordered_request(PATH, query_string={**_qs(n)}).respond_with_json(page)


def _qs(page: int) -> dict[str, str]:
    return {
        "query": "Acme",
        "tags": "(story,comment)",
        "numericFilters": f"created_at_i>={DAY_AGO}",
        "hitsPerPage": "2",
        "page": str(page),
    }
