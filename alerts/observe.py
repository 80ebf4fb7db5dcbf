"""Seeing what apprise saw: its debug log entries and the HTTP responses it received.

Apprise returns a boolean-like result per service and writes the *reason* (SMTP reply code,
HTTP status) to its log. Two things stand between us and that reason:

* The SMTP reply code is logged at DEBUG, and apprise's logger inherits the application's
  level (INFO or WARNING), so the record is never created. :func:`apprise_debug_capture`
  lowers the ``apprise`` logger to DEBUG for one send and stops it propagating meanwhile, so
  its debug lines (which include message payloads) never reach our handlers; ``notify()``
  collects them per attempt. This is what apprise's own ``LogCapture`` does.
* The generic HTTP plug-ins (json://, form://, Slack) never log ``Retry-After``. F5 asks us to
  honour it, so :func:`observe_http` records the status and ``Retry-After`` of each response
  requests returns while a send is in progress. It wraps ``requests.Session.send`` once, and
  the wrapper only records when a context variable says a send of ours is running (apprise
  copies the context into its worker threads); everywhere else it is a plain pass-through.
  It never reads bodies or URLs. While a send runs, urllib3's DEBUG request lines (which
  hold the URL path, where webhook tokens live) are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import requests

_APPRISE = logging.getLogger("apprise")
_LOCK = threading.RLock()
_SINK: ContextVar[list[HttpAnswer] | None] = ContextVar("kuulo_http_answers", default=None)
_installed = False


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    retry_after: str | None


@contextmanager
def apprise_debug_capture() -> Iterator[None]:
    """Let apprise create DEBUG records for one send, without them reaching our handlers."""
    with _LOCK:
        level, propagate = _APPRISE.level, _APPRISE.propagate
        _APPRISE.setLevel(logging.DEBUG)
        _APPRISE.propagate = False
        try:
            yield
        finally:
            _APPRISE.setLevel(level)
            _APPRISE.propagate = propagate


@contextmanager
def observe_http() -> Iterator[list[HttpAnswer]]:
    """Collect (status, Retry-After) of every HTTP response received inside the block."""
    _install()
    answers: list[HttpAnswer] = []
    token = _SINK.set(answers)
    try:
        yield answers
    finally:
        _SINK.reset(token)


def _install() -> None:
    global _installed
    with _LOCK:
        if _installed:
            return
        original = requests.Session.send

        def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            response = original(self, request, **kwargs)
            sink = _SINK.get()
            if sink is not None:
                sink.append(HttpAnswer(response.status_code, response.headers.get("Retry-After")))
            return response

        requests.Session.send = send  # type: ignore[method-assign]
        # urllib3 logs each request line at DEBUG, path included, and webhook URLs keep their
        # token in the path (hooks.slack.com/services/T/B/SECRET): not while we send.
        logging.getLogger("urllib3.connectionpool").addFilter(_NotDuringSend())
        _installed = True


class _NotDuringSend(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _SINK.get() is None
