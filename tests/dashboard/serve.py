"""Start `kuulo dashboard` as a subprocess and wait until Streamlit reports healthy."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_dashboard(
    config: Path, port: int | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Yield the dashboard's base URL (reached via `host`); stop the server on exit."""
    port = free_port() if port is None else port
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuulo", "--config", str(config), "dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
