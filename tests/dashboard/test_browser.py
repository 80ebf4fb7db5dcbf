"""The dashboard in a real headless Chromium (Debian's), served by `kuulo dashboard`."""

import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from kuulo.demo.runner import write_demo_config
from kuulo.demo.samples import build_feeds
from kuulo.demo.server import FeedServer
from kuulo.model import Mention
from kuulo.normalise import prepare
from kuulo.service import run_once
from kuulo.settings import load_settings
from kuulo.store import open_store

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

XSS = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> Nordlight'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    directory = tmp_path_factory.mktemp("browser")
    with FeedServer(build_feeds(datetime.now(UTC))) as server:
        config = write_demo_config(directory, server.url)
        settings = load_settings(config, {})
        run_once(settings)
    with open_store(settings.database_path()) as store:  # an untrusted mention, stored as-is
        hostile = Mention("rss", "social-mentions", "xss-1", "javascript:alert(1)", XSS)
        store.save_batch("social-mentions", [prepare(hostile, [], ["Nordlight"])], None,
                         datetime.now(UTC))  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuulo", "--config", str(config), "dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
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


def test_first_page_renders_and_nothing_leaves_loopback(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(dashboard)
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=45_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / "mentions.png"), full_page=True)
        body = page.inner_text("body")
        pwned = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        browser.close()
    assert "kuulo · mentions" in body
    assert "Mentions per day by sentiment" in body
    assert "Negative share" in body
    assert pwned is None  # the stored <img onerror> and <script> never ran
    hosts = {urlsplit(u).hostname for u in requests if u.startswith("http")}
    assert hosts <= {"127.0.0.1"}, hosts
    assert (tmp_path / "mentions.png").stat().st_size > 10_000
