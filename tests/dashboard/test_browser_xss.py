"""A corpus of XSS payloads, stored in every mention field, rendered by headless Chromium.

Every payload (``tests/fixtures/xss_payloads.json``) is stored verbatim, bypassing the HTML
clean-up collectors apply, as a mention's text, title, author name and handle, link, tags,
notes (body and author) and assignee. One browser then visits each page that shows mention
data (the inbox with the hostile mention selected, so its full text and notes are shown,
the overview, the export preview and alerts) and the test checks that no script ran (no
dialog, the ``window.__xss`` canary unset in every frame), that no request left the
dashboard's loopback origin, that no ``javascript:``/``data:``/``vbscript:`` link is in the
DOM, and that the payloads are on screen as plain text.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Dialog, Page, Route, sync_playwright

from dashboard.common import readable
from kuulo.model import Mention
from kuulo.normalise import Prepared, content_hash
from kuulo.settings import load_settings
from kuulo.store import SqliteStore, open_store
from tests.dashboard.serve import serve_dashboard
from tests.support import collected_demo

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

CORPUS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "xss_payloads.json").read_text(encoding="utf-8")
)
PAYLOADS: list[str] = CORPUS["payloads"]
SCRIPT_SCHEMES = re.compile(r"^\s*(javascript|data|vbscript):", re.IGNORECASE)
SOURCE = "social-mentions"
HOSTILE_URLS = [p for p in PAYLOADS if SCRIPT_SCHEMES.match(p)] + ["java\nscript:alert(1)"]


def hostile(i: int, payload: str, when: datetime) -> Prepared:
    """One mention with ``payload`` in every text field, stored as-is (no html_to_text)."""
    url = HOSTILE_URLS[i % len(HOSTILE_URLS)]
    mention = Mention(
        "rss", SOURCE, f"xss-{i}", url, payload, title=payload, published_at=when,
        author_name=payload, author_handle=payload, author_followers=10_000_000 - i,
        language="en",
    )  # fmt: skip
    return Prepared(mention, payload, payload, "en", content_hash(payload, payload, url),
                    ("Nordlight",))  # fmt: skip


def store_corpus(config: Path) -> None:
    """The corpus as mentions, the newest one holding all of it (text, notes, tags...)."""
    now = datetime.now(UTC).replace(microsecond=0)
    items = [hostile(i, p, now - timedelta(minutes=5 + i)) for i, p in enumerate(PAYLOADS)]
    # in the future: newer than the demo's mentions, so the first row of the inbox
    everything = hostile(len(PAYLOADS), "\n".join(PAYLOADS), now + timedelta(minutes=10))
    with open_store(load_settings(config, {}).database_path()) as store:
        assert isinstance(store, SqliteStore)
        store.save_batch(SOURCE, [*items, everything], None, now)
        store.db.execute(
            "UPDATE mentions SET sentiment = 'negative', sentiment_score = -0.9,"
            " sentiment_reason = native_id, scored_at = ? WHERE native_id LIKE 'xss-%'",
            [now.isoformat()],
        )
        ids = dict(
            store.db.execute("SELECT native_id, id FROM mentions WHERE native_id LIKE 'xss-%'")
        )
        newest = [ids[f"xss-{len(PAYLOADS)}"]]
        for i, payload in enumerate(PAYLOADS):
            store.add_note(newest, payload, PAYLOADS[-1 - i], now)
            store.add_tag([ids[f"xss-{i}"], *newest], payload, "staff", now)
            store.assign([ids[f"xss-{i}"]], payload, "staff", now)


@dataclass
class Visit:
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    canaries: dict[str, list[object]] = field(default_factory=dict)
    script_links: dict[str, list[str]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    cells: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


CANARY = "() => (window.__xss === undefined ? null : String(window.__xss))"
LINKS = "() => [...document.body.querySelectorAll('[href],[src],[action],[formaction]')].map(e =>" \
        " e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') ||" \
        " e.getAttribute('formaction') || '')"  # fmt: skip


def inspect(page: Page, name: str, visit: Visit) -> None:
    page.wait_for_timeout(1500)  # let anything that would fire (onerror, autofocus) fire
    visit.canaries[name] = [frame.evaluate(CANARY) for frame in page.frames]
    links = [link for frame in page.frames for link in frame.evaluate(LINKS)]
    visit.script_links[name] = [link for link in links if SCRIPT_SCHEMES.match(link)]
    visit.texts[name] = page.inner_text("body")
    cells = "() => [...document.querySelectorAll('[role=gridcell]')].map(c => c.textContent)"
    visit.cells[name] = page.evaluate(cells)  # the grids' accessible copy of their cells
    visit.errors[name] = page.locator("[data-testid='stException']").count()


@pytest.fixture(scope="module")
def visit(tmp_path_factory: pytest.TempPathFactory) -> Visit:
    """One server, one browser, every page that shows mention data; what happened on each."""
    directory = tmp_path_factory.mktemp("xss")
    config = collected_demo(directory)
    store_corpus(config)
    seen = Visit()
    with serve_dashboard(config) as url, sync_playwright() as pw:
        origin = urlsplit(url).netloc
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1800})

        def outside(route: Route) -> None:
            seen.requests.append(route.request.url)
            route.abort()

        context.route(lambda u: urlsplit(u).netloc != origin and not u.startswith("blob:"), outside)
        page = context.new_page()

        def dialog(opened: Dialog) -> None:
            seen.dialogs.append(opened.message)
            opened.dismiss()

        page.on("dialog", dialog)
        page.on("request", lambda r: seen.requests.append(r.url))
        page.goto(url)
        grid = page.locator("[data-testid='stDataFrame']")
        grid.wait_for(timeout=45_000)
        page.wait_for_timeout(1000)
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row: the newest, all of it
        page.get_by_text("1 selected").wait_for(timeout=20_000)
        page.get_by_text("Scorer's reason:").wait_for(timeout=20_000)
        page.screenshot(path=str(directory / "inbox.png"), full_page=True)
        inspect(page, "inbox", seen)
        for name, heading in (("overview", "Overview"), ("export", "Export"), ("alerts", "Alerts")):
            page.goto(f"{url}/{name}")
            page.get_by_role("heading", name=heading).first.wait_for(timeout=45_000)
            if name == "export":  # the preview shows the oldest rows: search for the corpus
                page.get_by_label("Search text").fill("script")
                page.keyboard.press("Enter")
                page.get_by_text("__xss").first.wait_for(state="attached", timeout=30_000)
            inspect(page, name, seen)
            page.screenshot(path=str(directory / f"{name}.png"), full_page=True)
        browser.close()
    return seen


def test_the_corpus_is_broad():
    assert len(PAYLOADS) >= 40
    assert len(set(PAYLOADS)) == len(PAYLOADS)
    joined = "\n".join(PAYLOADS).lower()
    kinds = ["<script", "onerror", "onload", "javascript:", "data:", "vbscript:", "<svg",
             "srcdoc", "](javascript:", "![", "&#", "expression(", "{{7*7}}", "\u202e"]  # fmt: skip
    for kind in kinds:
        assert kind in joined, kind


def test_no_payload_opens_a_dialog(visit):
    assert visit.dialogs == []


def test_no_payload_sets_the_canary(visit):
    assert set(visit.canaries) == {"inbox", "overview", "export", "alerts"}
    for name, values in visit.canaries.items():
        assert values, name
        assert all(v is None for v in values), (name, values)


def test_no_request_leaves_the_dashboard_origin(visit):
    hosts = {urlsplit(u).hostname for u in visit.requests if not u.startswith(("blob:", "data:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert not [u for u in visit.requests if u.startswith("data:text/html")]


def test_no_script_link_is_in_the_dom(visit):
    assert visit.script_links == {"inbox": [], "overview": [], "export": [], "alerts": []}


def test_the_payloads_are_shown_as_text(visit):
    """The selected mention's detail shows its text and every note verbatim, as text (less
    bidirectional controls, which could make it read as something else)."""

    def flat(text: str) -> str:
        return " ".join(readable(text).split())

    inbox = flat(visit.texts["inbox"])
    missing = [p for p in PAYLOADS if flat(p) not in inbox]
    assert "\u202e" not in visit.texts["inbox"]
    assert missing == [], missing
    assert all(count == 0 for count in visit.errors.values()), visit.errors
    preview = set(visit.cells["export"])
    assert len(preview & set(PAYLOADS)) >= 3, preview  # the export preview, cell by cell
    assert "Recent negative mentions" in visit.texts["overview"]
    assert "Top authors by reach" in visit.texts["overview"]
