from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.helpers import SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
