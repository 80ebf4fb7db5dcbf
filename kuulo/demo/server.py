"""A tiny threaded HTTP server that serves the demo feeds, by default on loopback only.

Every feed is answered with an ``ETag`` (a hash of its body) and a ``Last-Modified`` (when
the server was created); ``If-None-Match`` (or, without it, ``If-Modified-Since``) gets a
304. Unknown paths get a 404. Nothing is logged: request lines and handler errors are
dropped so the demo's own output stays readable.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class _Document:
    body: bytes
    content_type: str
    etag: str


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    tags = [tag.strip() for tag in header.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


def _not_modified(headers: Message, etag: str, modified: datetime) -> bool:
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return modified <= since


class _FeedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], documents: dict[str, _Document]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.documents = documents
        self.modified = datetime.now(UTC).replace(microsecond=0)
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop handler errors (a client hanging up mid-response) instead of printing them."""


class _Handler(BaseHTTPRequestHandler):
    server_version = "kuulo-demo/1"

    def do_GET(self) -> None:
        self._respond(include_body=True)

    def do_HEAD(self) -> None:
        self._respond(include_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the default writes every request to stderr."""

    def _respond(self, *, include_body: bool) -> None:
        server = cast(_FeedHTTPServer, self.server)
        document = server.documents.get(urlsplit(self.path).path)
        if document is None:
            self._send(404, b"not found\n", "text/plain; charset=utf-8", include_body, {})
            return
        validators = {
            "ETag": document.etag,
            "Last-Modified": format_datetime(server.modified, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if _not_modified(self.headers, document.etag, server.modified):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self._send(200, document.body, document.content_type, include_body, validators)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        include_body: bool,
        headers: dict[str, str],
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if include_body:
            self.wfile.write(body)


class FeedServer:
    """Serve ``{path: (body, content type)}`` over HTTP on ``host``.

    The socket is bound when the object is made, so ``url`` is known before ``start()``;
    ``port=0`` picks a free port. Use as a context manager or call ``start()``/``stop()``.
    """

    def __init__(
        self, feeds: dict[str, tuple[bytes, str]], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        documents = {
            path: _Document(body, content_type, _etag(body))
            for path, (body, content_type) in feeds.items()
        }
        self._httpd = _FeedHTTPServer((host, port), documents)
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:43211``, with no trailing slash."""
        host, port = self._httpd.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}"

    def start(self) -> FeedServer:
        """Serve in a daemon thread; calling it again while running does nothing."""
        if self._closed:
            raise RuntimeError("this FeedServer was stopped; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="kuulo-demo-feeds",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        if not self._closed:
            self._httpd.server_close()
            self._closed = True

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
