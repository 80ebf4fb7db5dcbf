"""``kuulo import``: exports in, through prepare -> match -> store -> score, via the real CLI.

Every test writes a settings file in ``tmp_path`` and runs the command with click's CliRunner,
so option parsing, the store, the run log and scoring are the real ones.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from kuulo.cli import cli
from kuulo.cli_import import _progress, import_cmd
from kuulo.import_readers import column_key
from kuulo.import_values import RowError, parse_count, parse_date, parse_rating
from kuulo.importer import BATCH_ROWS
from kuulo.pipeline import Runtime
from kuulo.scheduler import Ticker
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, SqliteStore, open_store
from tests.support import ACME_GLOBEX_BRANDS

cli.add_command(import_cmd)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BRANDS = ACME_GLOBEX_BRANDS
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>n</title>
<item><guid>a1</guid><title>Acme news</title><description>Acme opens a shop</description>
</item></channel></rss>"""


@pytest.fixture
def config(tmp_path: Path) -> Callable[..., str]:
    def write(sources: str = "") -> str:
        path = tmp_path / "kuulo.toml"
        database = (tmp_path / "kuulo.db").as_posix()
        # vader pinned: the assertions below are about its labels, not the default scorer's
        core = f'[kuulo]\ndatabase = "{database}"\n\n[sentiment]\nscorer = "vader"\n'
        path.write_text(f"{core}{BRANDS}\n{sources}", "utf-8")
        return str(path)

    return write


def kuulo_import(config_path: str, *args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--config", config_path, "import", *map(str, args)])


def rows(config_path: str, source: str | None = None) -> dict[str, dict[str, Any]]:
    settings = load_settings(config_path, environ={})
    with open_store(settings.database_path(), read_only=True) as store:
        f = MentionFilter(sources=(source,) if source else ())
        return {r["native_id"]: r for r in store.export_rows(f)}


def runs(config_path: str, source: str) -> list[dict[str, Any]]:
    settings = load_settings(config_path, environ={})
    with open_store(settings.database_path()) as store:
        assert isinstance(store, SqliteStore)
        cur = store.db.execute("SELECT * FROM runs WHERE source_name = ? ORDER BY id", [source])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# -- CSV: a Google-reviews-like export ------------------------------------------------------------


def test_a_semicolon_csv_with_bom_is_imported_with_reasons_for_bad_rows(
    config: Callable[..., str],
) -> None:
    cfg = config()
    result = kuulo_import(
        cfg, FIXTURES / "google_reviews.csv", "--source", "google-reviews", "--brand", "Acme"
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "imported 6 (new 6, updated 0), skipped 3",
        "  row 5: empty text",
        "  row 6: unparsable date '32/13/2026'",
        "  row 7: rating 'great' is not a number",
    ]
    assert lines[4:6] == [
        "notes:",
        "  row 9: date '2099-01-01 10:00' is in the future; stored without a date",
    ]
    stored = rows(cfg)
    assert set(stored) == {"1001", "1002", "1003", "18446744073709551615", "1008", "1009"}
    assert {r["brands"] for r in stored.values()} == {"Acme"}  # --brand: no keyword matching
    assert {r["source"] for r in stored.values()} == {"import"}
    assert stored["1001"]["id"] == "google-reviews:1001"
    assert stored["1001"]["author"] == "Maija K."
    assert stored["1001"]["published_at"] == "2026-11-20T14:03:00Z"  # naive: UTC
    assert stored["1002"]["published_at"] == "2026-11-19T07:15:00Z"  # +02:00 converted
    assert stored["1003"]["published_at"] == "2026-11-20T08:00:00Z"
    assert stored["1003"]["text"] == "Nice place; a bit noisy. Would visit Acme again."
    assert stored["1008"]["published_at"] is None
    assert stored["1009"]["published_at"] == "2026-11-17T00:00:00Z"
    ratings = {k: r["rating"] for k, r in stored.items()}
    assert ratings == {
        "1001": 5.0, "1002": 1.0, "1003": 4.0, "18446744073709551615": 4.5, "1008": 5.0,
        "1009": 4.0,
    }  # fmt: skip
    # scored with the configured scorer right after storing
    assert stored["1001"]["sentiment"] == "positive"
    assert stored["1002"]["sentiment"] == "negative"
    assert all(r["sentiment"] is not None for r in stored.values())

    [run] = runs(cfg, "google-reviews")
    assert (run["status"], run["fetched"], run["new"], run["skipped"]) == ("ok", 9, 6, 3)
    assert json.loads(run["skip_reasons"]) == [
        "empty text (x1)", "unparsable date (x1)", "rating is not a number (x1)",
    ]  # fmt: skip


def test_importing_the_same_file_twice_changes_nothing(config: Callable[..., str]) -> None:
    cfg = config()
    args = (FIXTURES / "google_reviews.csv", "--source", "google-reviews", "--brand", "Acme")
    assert kuulo_import(cfg, *args).exit_code == 0
    before = rows(cfg)

    again = kuulo_import(cfg, *args)

    assert again.exit_code == 0, again.output
    assert again.output.startswith("imported 6 (new 0, updated 0, unchanged 6), skipped 3")
    after = rows(cfg)
    assert after == before
    assert [r["status"] for r in runs(cfg, "google-reviews")] == ["ok", "ok"]


def test_without_brand_rows_are_matched_by_the_brand_queries(config: Callable[..., str]) -> None:
    cfg = config()
    result = kuulo_import(cfg, FIXTURES / "google_reviews.csv", "--source", "reviews")
    assert result.exit_code == 0, result.output
    assert "  row 10: matched no brand query" in result.output
    assert "1009" not in rows(cfg)  # "Decent, nothing special." names no brand
    assert rows(cfg)["1003"]["brands"] == "Acme"


# -- JSON Lines: a TripAdvisor-like export -------------------------------------------------------


def test_json_lines_keep_big_ids_exact_and_clean_lone_surrogates(
    config: Callable[..., str],
) -> None:
    cfg = config()
    result = kuulo_import(
        cfg, FIXTURES / "tripadvisor.jsonl", "--source", "tripadvisor",
        "--column", "author=user.username",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:4] == [
        "imported 3 (new 3, updated 0), skipped 3",
        "  row 3: invalid JSON (Invalid control character at)",
        "  row 4: id 1.5e+18 is a floating-point number; write ids as text",
        "  row 6: not a JSON object",
    ]
    stored = rows(cfg)
    assert set(stored) == {"987654321987654321", "987654321987654322", "987654321987654323"}
    first = stored["987654321987654321"]
    assert (first["author"], first["likes"], first["language"]) == ("traveller42", 3, "en")
    assert first["url"].startswith("https://www.tripadvisor.example/")
    assert first["title"] == "Acme hotel stay"
    cold = stored["987654321987654322"]
    assert cold["text"] == "Acme breakfast was cold \ufffd and late."
    assert cold["published_at"] == "2026-11-20T08:00:00Z"  # no zone: UTC
    third = stored["987654321987654323"]
    assert (third["rating"], third["language"]) == (3.0, "fi")


# -- column mapping ------------------------------------------------------------------------------


def test_columns_mapped_by_a_file_or_by_options_give_the_same_rows(
    config: Callable[..., str], tmp_path: Path
) -> None:
    cfg = config()
    data = FIXTURES / "kahvila.csv"
    by_file = kuulo_import(
        cfg, data, "--source", "kahvila", "--map", FIXTURES / "kahvila_mapping.toml"
    )
    assert by_file.exit_code == 0, by_file.output
    assert by_file.output.startswith("imported 2 (new 2, updated 0), skipped 0")

    options = [
        "--column", "id=Tunniste", "--column", "author=Kirjoittaja", "--column", "rating=Tähdet",
        "--column", "published_at=Päivä", "--column", "text=Arvostelu",
    ]  # fmt: skip
    by_options = kuulo_import(cfg, data, "--source", "kahvila", *options)
    assert by_options.exit_code == 0, by_options.output
    assert "new 0, updated 0, unchanged 2" in by_options.output
    stored = rows(cfg)
    assert stored["fi-1"]["author"] == "Matti"
    assert stored["fi-2"]["rating"] == 2.0
    assert stored["fi-2"]["published_at"] == "2026-11-21T09:30:00Z"


def test_an_option_wins_over_the_mapping_file(config: Callable[..., str]) -> None:
    cfg = config()
    result = kuulo_import(
        cfg, FIXTURES / "kahvila.csv", "--source", "kahvila",
        "--map", FIXTURES / "kahvila_mapping.toml", "--column", "author=Tunniste",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert rows(cfg)["fi-1"]["author"] == "fi-1"


def test_default_column_names_need_no_mapping(config: Callable[..., str], tmp_path: Path) -> None:
    cfg = config()
    data = write_csv(
        tmp_path / "fb.csv",
        [
            "Comment ID,From Name,Message,Created Time,Reactions",
            "c1,Pekka,Acme rocks,2026-11-20T10:00:00+0000,12",
        ],
    )
    result = kuulo_import(cfg, data, "--source", "facebook")
    assert result.exit_code == 0, result.output
    row = rows(cfg)["c1"]
    assert (row["text"], row["likes"], row["published_at"]) == (
        "Acme rocks", 12, "2026-11-20T10:00:00Z",
    )  # fmt: skip


def test_rows_without_an_id_get_a_stable_content_hash(
    config: Callable[..., str], tmp_path: Path
) -> None:
    cfg = config()
    data = write_csv(tmp_path / "r.csv", ["review,stars", "Acme ok,3", "Acme bad,1"])
    assert kuulo_import(cfg, data, "--source", "r").exit_code == 0
    again = kuulo_import(cfg, data, "--source", "r")
    assert "unchanged 2" in again.output
    ids = sorted(rows(cfg))
    assert len(ids) == 2
    assert all(i.startswith("sha256:") for i in ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--column", "text"], "write FIELD=COLUMN"),
        (["--column", "sentiment=Mood"], "unknown field 'sentiment'"),
        (["--brand", "Initech"], "no [[brands]] entry with that name"),
        (["--source", "bad name"], "use letters, digits"),
        (["--source", "acme-news"], "is a configured [[sources]] entry"),
    ],
)
def test_impossible_requests_are_usage_errors(
    config: Callable[..., str], args: list[str], message: str
) -> None:
    cfg = config('[[sources]]\nname = "acme-news"\nkind = "rss"\nurl = "https://example.com/f"\n')
    base: list[str | Path] = [FIXTURES / "kahvila.csv", "--source", "kahvila"]
    if "--source" in args:
        base = base[:1]
    result = kuulo_import(cfg, *base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not Path(load_settings(cfg, environ={}).database_path()).exists() or not rows(cfg)


def test_a_mapped_column_missing_from_the_file_fails_clearly(config: Callable[..., str]) -> None:
    cfg = config()
    result = kuulo_import(cfg, FIXTURES / "kahvila.csv", "--source", "k", "--column", "text=Body")
    assert result.exit_code == 1
    assert "column 'Body' not found (columns: Tunniste, Kirjoittaja" in result.output
    assert runs(cfg, "k")[0]["status"] == "error"


def test_a_row_that_is_not_utf8_is_skipped_and_the_rest_stored(
    config: Callable[..., str], tmp_path: Path
) -> None:
    cfg = config()
    data = tmp_path / "mixed.csv"
    data.write_bytes(
        b"\xef\xbb\xbftext,rating\nAcme good,4\n"
        + "Acme caf\xe9,3\n".encode("latin-1")
        + "Acme café,5\n".encode()
    )
    result = kuulo_import(cfg, data, "--source", "mixed")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "imported 2 (new 2, updated 0), skipped 1",
        "  row 3: not valid UTF-8 (save the file as UTF-8)",
    ]
    assert sorted(r["text"] for r in rows(cfg).values()) == ["Acme café", "Acme good"]


def test_a_utf16_export_is_read(config: Callable[..., str], tmp_path: Path) -> None:
    cfg = config()
    data = tmp_path / "excel.txt"
    data.write_text("Review\tStars\nAcme kiva\t5\n", encoding="utf-16")
    result = kuulo_import(cfg, data, "--source", "excel")
    assert result.exit_code == 0, result.output
    [row] = rows(cfg).values()
    assert (row["text"], row["rating"]) == ("Acme kiva", 5.0)


def test_a_json_array_is_not_json_lines(config: Callable[..., str], tmp_path: Path) -> None:
    cfg = config()
    data = tmp_path / "reviews.json"
    data.write_text('[{"text": "Acme"}]\n', encoding="utf-8")
    result = kuulo_import(cfg, data, "--source", "arr")
    assert result.exit_code == 1
    assert "this is a JSON array, not JSON Lines" in result.output
    assert runs(cfg, "arr")[0]["status"] == "error"


# -- batching, summary, scheduling ---------------------------------------------------------------


def test_rows_are_stored_in_batches_and_the_listing_is_capped(
    config: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config()
    lines = ["id,text,rating"]
    lines += [f"{n},Acme row {n},4" for n in range(1, 1201)]
    lines += [f"b{n},Acme bad {n},lots" for n in range(25)]
    data = write_csv(tmp_path / "big.csv", lines)
    sizes: list[int] = []
    real = SqliteStore.save_batch

    def spy(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(args[1]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SqliteStore, "save_batch", spy)
    result = kuulo_import(cfg, data, "--source", "big", "--brand", "Acme")

    assert result.exit_code == 0, result.output
    assert sizes == [BATCH_ROWS, BATCH_ROWS, 200]
    out = result.output.splitlines()
    assert out[0] == "imported 1200 (new 1200, updated 0), skipped 25"
    assert out[1] == "  row 1202: rating 'lots' is not a number"
    assert out[21] == "  ... and 5 more"


def test_an_import_source_is_never_scheduled(
    config: Callable[..., str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        RSS, content_type="application/rss+xml"
    )
    cfg = config(
        f'[[sources]]\nname = "news"\nkind = "rss"\nurl = "{httpserver.url_for("/feed.xml")}"\n'
    )
    assert kuulo_import(cfg, FIXTURES / "kahvila.csv", "--source", "kahvila", "--map",
                        FIXTURES / "kahvila_mapping.toml").exit_code == 0  # fmt: skip
    settings = load_settings(cfg, environ={})
    later = NOW + timedelta(days=400)
    rt = Runtime.from_settings(settings, clock=lambda: later, jitter=lambda every: timedelta(0))
    with open_store(settings.database_path()) as store:
        assert "kahvila" in store.due_sources(later)  # looks due ...

    ticker = Ticker(rt, settings.database_path())
    try:
        ticker.run_once()
        ticker.tick()
    finally:
        ticker.shutdown()

    assert len(runs(cfg, "kahvila")) == 1  # ... but only the import itself ever ran it
    assert [r["status"] for r in runs(cfg, "news")] == ["ok"]
    assert set(rows(cfg, "kahvila")) == {"fi-1", "fi-2"}


# -- value parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20 14:03", datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("2026-11-20T14:03:00Z", datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("2026-11-20T16:03:00+02:00", datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("20.11.2026 14:03", datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("20/11/2026", datetime(2026, 11, 20, tzinfo=UTC)),
        ("11/20/2026 2:03", datetime(2026, 11, 20, 2, 3, tzinfo=UTC)),
        ("Nov 20, 2026", datetime(2026, 11, 20, tzinfo=UTC)),
        ("20 November 2026", datetime(2026, 11, 20, tzinfo=UTC)),
        ("Fri, 20 Nov 2026 14:03:00 +0000", datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("1795176180", datetime(2026, 11, 20, 12, 3, tzinfo=UTC)),
        (1795176180000, datetime(2026, 11, 20, 12, 3, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_dates_in_common_formats_become_utc(value: object, expected: datetime | None) -> None:
    assert parse_date(value, NOW) == (expected, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("32/13/2026", "unparsable date '32/13/2026'"),
        ("05/04/2026", "ambiguous date '05/04/2026'"),
        ("yesterday", "unparsable date 'yesterday'"),
        (True, "unparsable date True"),
    ],
)
def test_unreadable_dates_are_row_errors(value: object, reason: str) -> None:
    with pytest.raises(RowError) as caught:
        parse_date(value, NOW)
    assert caught.value.reason.startswith(reason)


def test_a_far_future_date_is_dropped_with_a_note() -> None:
    assert parse_date("2027-06-01", NOW) == (
        None, "date '2027-06-01' is in the future; stored without a date",
    )  # fmt: skip
    assert parse_date("2026-11-26 06:00", NOW)[0] is not None  # within a day: clock skew


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4, 4.0), (4.5, 4.5), ("4", 4.0), ("4,5", 4.5), ("4/5", 4.0), ("8/10", 4.0),
        ("4 out of 5", 4.0), ("★★★★☆", 4.0), ("⭐⭐⭐", 3.0), ("5 stars", 5.0), ("", None),
    ],
)  # fmt: skip
def test_ratings_are_read_as_stars_out_of_five(value: object, expected: float | None) -> None:
    assert parse_rating(value) == expected


@pytest.mark.parametrize("value", ["great", "4/0", "-1", True, [4], "nan"])
def test_unreadable_ratings_are_row_errors(value: object) -> None:
    with pytest.raises(RowError, match="is not a number"):
        parse_rating(value)


def test_counts_and_column_names() -> None:
    assert [parse_count(v, "likes") for v in (3, "1,234", "1 234", 2.0, None, "")] == [
        3, 1234, 1234, 2, None, None,
    ]  # fmt: skip
    for bad in ("many", -1, 1.5, False):
        with pytest.raises(RowError, match=r"likes .* is not a whole number"):
            parse_count(bad, "likes")
    assert column_key("\ufeffReview Text") == "review_text"
    assert column_key("publishedDate") == "published_date"
    assert column_key("helpful-votes") == "helpful_votes"


def test_a_progress_bar_is_shown_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    data = write_csv(tmp_path / "p.csv", ["text", "Acme"])
    with _progress(data) as quiet:
        assert quiet is None  # pytest's stderr is not a terminal
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _progress(data) as update:
        assert update is not None
        update(data.stat().st_size)
    assert "importing" in terminal.getvalue()
