"""The dashboard in a real headless Chromium (Debian's), served by `kuulo dashboard`."""

import shutil
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from kuulo.model import Mention
from kuulo.normalise import prepare
from kuulo.settings import load_settings
from kuulo.store import open_store
from tests.dashboard.serve import serve_dashboard
from tests.support import collected_demo

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

XSS = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> Nordlight'


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    config = collected_demo(tmp_path_factory.mktemp("browser"))
    settings = load_settings(config, {})
    with open_store(settings.database_path()) as store:  # an untrusted mention, stored as-is
        hostile = Mention("rss", "social-mentions", "xss-1", "javascript:alert(1)", XSS)
        store.save_batch("social-mentions", [prepare(hostile, [], ["Nordlight"])], None,
                         datetime.now(UTC))  # fmt: skip
    with serve_dashboard(config) as url:
        yield url


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


PAGES = {
    "inbox": ("Inbox", "Newest mentions"),
    "overview": ("Overview", "Mentions over time by sentiment"),
    "competitors": ("Competitors", "Share of voice"),
    "export": ("Export", "Download"),
    "sources": ("Sources & brands", "Source health"),
}


def test_every_page_renders_without_errors(dashboard, tmp_path):
    """Each page in a real browser: its heading and key section appear, no exception box.

    The screenshots (``<tmp_path>/<page>.png``) are for looking at layout changes by eye.
    """
    from playwright.sync_api import sync_playwright

    bodies: dict[str, str] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        for name, (heading, section) in PAGES.items():
            page.goto(f"{dashboard}/{'' if name == 'inbox' else name}")
            page.get_by_role("heading", name=heading).first.wait_for(timeout=45_000)
            page.get_by_text(section).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # charts draw after the text
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            bodies[name] = page.inner_text("body")
            assert page.locator("[data-testid='stException']").count() == 0, name
        browser.close()
    for name in PAGES:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
    assert "Nordlight" in bodies["competitors"]
    assert "Brands" in bodies["sources"]


def test_a_ticked_row_can_be_marked_replied(dashboard, tmp_path):
    """The real selection path: tick a row in the grid, press an action, the row leaves "new"."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(dashboard)
        grid = page.locator("[data-testid='stDataFrame']")
        grid.wait_for(timeout=45_000)
        before = page.get_by_text("Newest mentions (").inner_text()
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 2 * 35 + 17)  # third row's tick box
        page.get_by_text("1 selected").wait_for(timeout=20_000)
        page.screenshot(path=str(tmp_path / "selected.png"), full_page=True)
        page.get_by_role("button", name="Mark replied").click()
        page.get_by_text("Mark replied: 1 mention").wait_for(timeout=20_000)
        after = page.get_by_text("Newest mentions (").inner_text()
        browser.close()
    total = int(before.rsplit(" of ", 1)[1].rstrip(")").replace(",", ""))
    assert after.endswith(f" of {total - 1:,})")
