"""Adding a brand through the real form in headless Chromium (Debian's), served by
`kuulo dashboard`: the live preview appears while typing, and the saved brand is listed."""

import re
import shutil

import pytest

from kuulo.settings import load_settings
from kuulo.store import open_store
from tests.dashboard.serve import serve_dashboard
from tests.support import collected_demo

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
def dashboard(tmp_path):
    config = collected_demo(tmp_path / "demo")
    with serve_dashboard(config) as url:
        yield url, load_settings(config, {}).database_path()


def test_a_brand_added_in_the_form_is_saved_and_listed(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    url, database = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(url)
        page.get_by_role("link", name="Sources & brands").click()
        page.get_by_role("heading", name="Brands", exact=True).wait_for(timeout=45_000)
        page.get_by_text("Add or edit a brand").click()
        page.get_by_role("textbox", name="Name *").last.fill("Nordlight fans")
        query = page.get_by_role("textbox", name="Query *")
        query.fill('Nordlight -"Nordlight Road"')
        query.press("Enter")  # a text field re-runs the page on Enter: the preview updates
        page.get_by_text("Would match").wait_for(timeout=20_000)
        preview = page.get_by_text("Would match").inner_text()
        page.get_by_role("button", name="Add brand").click()
        page.get_by_text("Added brand Nordlight fans").wait_for(timeout=20_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / "brand-added.png"), full_page=True)
        brands = page.locator("[data-testid='stDataFrame']").filter(has_text="Kahvila Aurora")
        listed = brands.first.text_content() or ""  # the grid is a canvas; its a11y table
        errors = page.locator("[data-testid='stException']").count()
        browser.close()
    assert re.search(r"Would match \d+ of the latest \d+ mentions\.", preview), preview
    assert "Nordlight fans" in listed
    assert "dashboard" in listed
    assert errors == 0
    with open_store(database, read_only=True) as store:
        (item,) = store.catalog_items("brand")
    assert item.body == {"name": "Nordlight fans", "query": 'Nordlight -"Nordlight Road"'}
