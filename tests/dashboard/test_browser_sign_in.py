"""Sign-in through the real form in Chromium, against `kuulo dashboard` on a non-loopback host.

The server binds 0.0.0.0 (so sign-in is required) but the browser connects via 127.0.0.1.
"""

import shutil
from datetime import UTC, datetime

import pytest

from kuulo.store import open_store
from tests.dashboard.serve import serve_dashboard

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sign-in")
    database = directory / "kuulo.db"
    with open_store(database) as store:
        store.create_user("ann", "ann password", "agent", datetime.now(UTC))
    config = directory / "kuulo.toml"
    config.write_text(
        f'[kuulo]\ndatabase = "{database}"\ndashboard_host = "0.0.0.0"\n\n'
        '[[brands]]\nname = "Acme"\nquery = "acme"\n'
    )
    with serve_dashboard(config) as url:
        yield url


def test_sign_in_through_the_form_then_sign_out(dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{dashboard}/overview")  # a deep link shows the form, not the page
        page.get_by_role("button", name="Sign in").wait_for(timeout=45_000)
        assert page.get_by_role("heading", name="Overview").count() == 0

        def sign_in(password: str) -> None:
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password", exact=True).fill(password)
            page.get_by_role("button", name="Sign in").click()

        sign_in("not the password")
        page.get_by_text("Wrong username or password.").wait_for(timeout=20_000)
        sign_in("ann password")
        page.get_by_text("Signed in as").wait_for(timeout=20_000)
        # the deep link's page, once signed in (the form was served under its URL)
        page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
        assert "ann (agent)" in page.inner_text("[data-testid='stSidebar']")
        page.get_by_role("link", name="Inbox").click()
        page.get_by_role("heading", name="Inbox").wait_for(timeout=30_000)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for(timeout=20_000)
        assert page.get_by_text("Signed in as").count() == 0
        page.goto(dashboard)  # the root: app.py's navigation, the form as its only page
        sign_in("ann password")
        page.get_by_role("heading", name="Inbox").wait_for(timeout=30_000)
        page.get_by_text("Signed in as").wait_for(timeout=20_000)
        page.reload()  # a new websocket session: signed out (documented)
        page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        browser.close()
