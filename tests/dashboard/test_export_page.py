"""The Export page through AppTest, its files compared with ``kuulo export`` for the same filter.

AppTest has no Streamlit runtime, so the deferred download never runs there: the page's call
to :func:`dashboard.export.deferred` is recorded, and the callable it hands the button is run
here, exactly as Streamlit's download thread would run it on a click.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from dashboard import export
from dashboard.common import window
from kuulo.bench_dashboard import seed
from kuulo.cli import cli
from kuulo.model import Mention
from kuulo.normalise import prepare
from kuulo.settings import load_settings
from kuulo.store import open_store
from kuulo.store.inbox import InboxFilter
from kuulo.store.queries import EXPORT_COLUMNS
from tests.dashboard.apptest import open_page, private_copy
from tests.dashboard.serve import serve_dashboard
from tests.support import collected_demo

FORMULA = '=HYPERLINK("https://evil.example","click") Nordlight'


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = collected_demo(tmp_path_factory.mktemp("export"))
    with open_store(load_settings(config, {}).database_path()) as store:
        spreadsheet = Mention(
            "rss", "social-mentions", "formula-1", "https://a.example/1", FORMULA,
            title="+cmd|' /C calc'!A0", author_name="@admin",
        )  # fmt: skip
        store.save_batch("social-mentions", [prepare(spreadsheet, [], ["Nordlight"])], None,
                         datetime.now(UTC))  # fmt: skip
    return config


@pytest.fixture
def config(demo_config: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database (a test's clicks cannot reach another test)."""
    return private_copy(demo_config, tmp_path)


Recorded = list[tuple[str, InboxFilter, str]]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Every (database, filter, format) the page hands a download button."""
    seen: Recorded = []
    real = export.deferred

    def spy(path: str, f: InboxFilter, fmt: str) -> Callable[[], bytes]:
        seen.append((path, f, fmt))
        return real(path, f, fmt)

    monkeypatch.setattr(export, "deferred", spy)
    return seen


def export_page(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_page(config, monkeypatch, "export", timeout=60)


def cli_export(config: Path, tmp_path: Path, fmt: str, *args: str) -> bytes:
    out = tmp_path / f"cli.{fmt}"
    result = CliRunner().invoke(
        cli, ["--config", str(config), "export", "--format", fmt, *args, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def cli_args(f: InboxFilter) -> list[str]:
    """The CLI flags for a filter the page built (only brand/source/sentiment/period here)."""
    m = f.mentions
    args = [a for b in m.brands for a in ("--brand", b)]
    args += [a for s in m.sentiments for a in ("--sentiment", s)]
    args += [a for s in m.sources for a in ("--source", s)]
    if m.since:
        args += ["--since", m.since.strftime("%Y-%m-%dT%H:%M:%S")]
    return args


@pytest.mark.parametrize("choice", ["CSV", "JSON Lines", "Parquet"])
def test_the_download_matches_kuulo_export_for_the_same_filters(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, downloads: Recorded, choice: str
) -> None:
    at = export_page(config, monkeypatch)
    at.multiselect(key="export-brand").set_value(["Nordlight"])
    at.multiselect(key="export-sentiment").set_value(["negative", "neutral"])
    at.radio(key="export-format").set_value(choice).run()
    assert not at.exception, at.exception
    matching = int(at.metric[0].value.replace(",", ""))
    (button,) = at.get("download_button")
    assert button.proto.label == f"Download {matching:,} mentions ({choice})"
    path, f, fmt = downloads[-1]
    assert fmt == export.FORMATS[choice][0]
    assert f.mentions.brands == ("Nordlight",)
    assert f.mentions.sentiments == ("negative", "neutral")
    assert f.mentions.since is not None  # "Last 30 days"
    data = export.deferred(path, f, fmt)()
    expected = cli_export(config, tmp_path, fmt, *cli_args(f))
    if fmt == "parquet":  # the same table (the file's metadata may differ byte for byte)
        table = pq.read_table(io.BytesIO(data))
        assert table.equals(pq.read_table(io.BytesIO(expected)))
        assert table.num_rows == matching
    else:
        assert data == expected
        assert len(data.decode().splitlines()) == matching + (fmt == "csv")
    assert 0 < matching < int(load_all_count(config))  # the filters did narrow it


def load_all_count(config: Path) -> int:
    with open_store(load_settings(config, {}).database_path(), read_only=True) as store:
        return store.count_inbox(InboxFilter())


def test_csv_cells_that_look_like_formulas_are_neutralised(
    config: Path, monkeypatch: pytest.MonkeyPatch, downloads: Recorded
) -> None:
    at = export_page(config, monkeypatch)
    at.text_input(key="export-search").set_value("HYPERLINK").run()
    assert at.metric[0].value == "1"
    path, f, fmt = downloads[-1]
    (row,) = list(csv.DictReader(io.StringIO(export.deferred(path, f, fmt)().decode())))
    assert row["text"] == "'" + FORMULA
    assert row["title"] == "'+cmd|' /C calc'!A0"
    assert row["author"] == "'@admin"
    at.radio(key="export-format").set_value("JSON Lines").run()
    path, f, fmt = downloads[-1]
    assert json.loads(export.deferred(path, f, fmt)())["text"] == FORMULA  # JSON keeps it


def test_the_page_shows_count_size_and_a_preview_before_downloading(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = export_page(config, monkeypatch)
    labels = [m.label for m in at.metric]
    assert labels == ["Matching mentions", "Estimated size"]
    assert at.metric[1].value.startswith("≈ ")
    assert at.metric[1].value.endswith(("KB", "MB"))
    (preview,) = at.dataframe
    assert tuple(preview.value.columns) == export.PREVIEW_COLUMNS
    assert set(export.PREVIEW_COLUMNS) <= set(EXPORT_COLUMNS)
    assert len(preview.value) == export.PREVIEW_ROWS


def test_past_the_limit_the_page_offers_the_cli_command(
    config: Path, monkeypatch: pytest.MonkeyPatch, downloads: Recorded
) -> None:
    config.write_text(config.read_text() + "\n[dashboard]\nexport_max_rows = 10\n")
    at = export_page(config, monkeypatch)
    at.multiselect(key="export-brand").set_value(["Nordlight"]).run()
    assert not at.get("download_button")
    assert downloads == []
    assert "export_max_rows = 10" in at.warning[0].value
    command = at.code[0].value
    assert command.startswith(f"kuulo --config {config} export --format csv --brand Nordlight")
    assert "--since" in command


def test_a_large_export_is_complete_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, downloads: Recorded
) -> None:
    database = tmp_path / "big.db"
    seed(database, rows=20_000)
    config = tmp_path / "kuulo.toml"
    config.write_text(f'[kuulo]\ndatabase = "{database}"\n\n[[brands]]\nname = "Nordlight"\n'
                      'query = "nordlight"\n')  # fmt: skip
    at = export_page(config, monkeypatch)
    at.selectbox(key="export-period").set_value("All time").run()
    with open_store(database, read_only=True) as store:  # the seed blocks a few authors
        visible = store.count_inbox(InboxFilter())
    assert 19_000 < visible <= 20_000
    assert at.metric[0].value == f"{visible:,}"
    path, f, _ = downloads[-1]
    rows = list(csv.reader(io.StringIO(export.deferred(path, f, "csv")().decode())))
    assert len(rows) == visible + 1
    assert len({r[0] for r in rows[1:]}) == visible  # every mention once
    assert export.deferred(path, f, "jsonl")().count(b"\n") == visible
    assert pq.read_table(io.BytesIO(export.deferred(path, f, "parquet")())).num_rows == visible


def test_the_spooled_file_is_private_and_removed(config: Path) -> None:
    path = str(load_settings(config, {}).database_path())
    seen: dict[str, Any] = {}
    with export.spooled(path, InboxFilter(), "csv") as target:
        seen["mode"] = target.stat().st_mode & 0o777
        seen["path"] = target
        assert target.read_text(encoding="utf-8").startswith(",".join(EXPORT_COLUMNS))
    assert seen["mode"] == 0o600
    assert not seen["path"].exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_a_real_browser_downloads_what_kuulo_export_writes(config: Path, tmp_path: Path) -> None:
    """Chromium presses the button; Streamlit runs the deferred export and serves the file."""
    from playwright.sync_api import sync_playwright

    since, _ = window("Last 30 days")  # the page's default period
    assert since is not None
    with serve_dashboard(config) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page(accept_downloads=True)
        page.goto(f"{url}/export")
        button = page.get_by_role("button", name=re.compile(r"^Download .* mentions \(CSV\)"))
        button.wait_for(timeout=45_000)
        with page.expect_download(timeout=60_000) as info:
            button.click()
        saved = tmp_path / "downloaded.csv"
        info.value.save_as(saved)
        name = info.value.suggested_filename
        browser.close()
    assert name == f"kuulo-mentions_{since.date().isoformat()}_export.csv"
    expected = cli_export(config, tmp_path, "csv", "--since", since.strftime("%Y-%m-%dT%H:%M:%S"))
    assert saved.read_bytes() == expected
    assert expected.count(b"\n") > 100
