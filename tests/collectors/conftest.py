"""Fixtures shared by the tests in this folder."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.collectors.hackernews_support import PATH, FakeAlgolia
from tests.collectors.reddit_support import FakeReddit
from tests.collectors.x_support import FakeX


@pytest.fixture
def fake_x(httpserver: HTTPServer) -> FakeX:
    return FakeX(httpserver)


@pytest.fixture
def reddit(httpserver: HTTPServer) -> FakeReddit:
    return FakeReddit(httpserver)


@pytest.fixture
def _no_real_reddit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: no test may reach the real hosts."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert "reddit.com" not in str(host), "a test tried to reach Reddit"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeAlgolia:
    algolia = FakeAlgolia(httpserver)
    httpserver.expect_request(PATH).respond_with_handler(algolia)
    return algolia
