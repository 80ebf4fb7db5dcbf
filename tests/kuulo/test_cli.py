import csv
import io
import json
from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from kuulo.cli import cli
from kuulo.demo.runner import write_demo_config
from kuulo.demo.samples import build_feeds
from kuulo.demo.server import FeedServer
from kuulo.store import MentionFilter, open_store
from kuulo.store.queries import EXPORT_COLUMNS


@pytest.fixture(scope="module")
def feeds():
    with FeedServer(build_feeds(datetime.now(UTC))) as server:
        yield server


@pytest.fixture
def demo_config(tmp_path, feeds):
    return str(write_demo_config(tmp_path, feeds.url))


@pytest.fixture
def collected(demo_config):
    result = CliRunner().invoke(cli, ["--config", demo_config, "collect"])
    assert result.exit_code == 0, result.output
    return demo_config


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help():
    for path, command in all_commands(cli):
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        assert command.help, f"{' '.join(path)} has no help text"
        assert "Usage: " in result.output


def test_config_check_ok(demo_config):
    result = invoke("--config", demo_config, "config", "check")
    assert result.exit_code == 0
    assert "OK (3 brands, 8 sources)" in result.output


def test_config_check_reports_problems_and_exits_non_zero(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[kuulo]\ndatabse = "x.db"\n[[sources]]\nname = "a"\nkind = "rss"\n')
    result = invoke("--config", str(path), "config", "check")
    assert result.exit_code == 2
    assert "[kuulo], key 'databse': unknown key (did you mean 'database'?)" in result.output
    assert "[[sources]] #1 (name = 'a'), key 'url': required key is missing" in result.output


def test_score_plain_lines_and_json_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config file here: scoring uses the defaults
    text = (
        "The service was terrible\n"
        '{"text": "Kahvi oli kylmää ja palvelu huonoa", "language": "fi"}\n'
        '{"text": "Der Kaffee war kalt", "language": "de"}\n\nGreat!\n'
    )
    result = invoke("score", input=text)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    # the default scorer reads English and Finnish; other languages are unscored, not guessed
    assert [line["label"] for line in lines] == ["negative", "negative", "unscored", "positive"]
    assert lines[0]["model"] == "default"
    assert lines[0]["score"] < 0
    assert "de" in lines[2]["reason"]


def test_score_rejects_bad_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("score", input='{"txt": 1}\n')
    assert result.exit_code == 1
    assert '"text" field' in result.output


def test_collect_then_status(collected):
    result = invoke("--config", collected, "status")
    assert result.exit_code == 0
    assert "nordlight-news (rss): last run" in result.output
    assert "broken-bomb (rss): last run" in result.output
    assert "last error:" in result.output
    assert "XML bomb" in result.output


def test_collect_unknown_source_is_an_error(demo_config):
    result = invoke("--config", demo_config, "collect", "nope")
    assert result.exit_code == 2
    assert "no source named nope" in result.output


def test_export_csv_has_the_documented_columns(collected, tmp_path):
    out = tmp_path / "out.csv"
    result = invoke("--config", collected, "export", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    with open_store(tmp_path / "kuulo.db", read_only=True) as store:
        assert len(rows) - 1 == store.count_mentions(MentionFilter()) > 250


def test_export_jsonl_filters(collected, tmp_path):
    result = invoke(
        "--config", collected, "export", "--format", "jsonl",
        "--brand", "Brewhaus", "--sentiment", "negative",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows
    assert all("Brewhaus" in row["brands"].split(";") for row in rows)
    assert {row["sentiment"] for row in rows} == {"negative"}
    assert list(rows[0]) == list(EXPORT_COLUMNS)


def test_export_time_window(collected):
    since = datetime.now(UTC).strftime("%Y-%m-%d")
    result = invoke("--config", collected, "export", "--format", "jsonl", "--since", since)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    everything = invoke("--config", collected, "export", "--format", "jsonl")
    assert 0 < len(rows) < len(everything.stdout.splitlines())
    assert all((row["published_at"] or row["collected_at"]) >= since for row in rows)


def test_export_parquet(collected, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "out.parquet"
    result = invoke("--config", collected, "export", "--format", "parquet", "-o", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert tuple(table.column_names) == EXPORT_COLUMNS
    assert table.num_rows > 250


def test_run_once_collects_and_scores(demo_config, tmp_path):
    result = invoke("--config", demo_config, "run", "--once")
    assert result.exit_code == 0, result.output
    with open_store(tmp_path / "kuulo.db", read_only=True) as store:
        assert store.count_mentions(MentionFilter()) > 250
        assert store.count_pending() == 0


def test_rescore_after_threshold_change(collected, tmp_path):
    result = invoke("--config", collected, "rescore", "--all")
    assert result.exit_code == 0, result.output
    assert "re-scored" in result.output
    with open_store(tmp_path / "kuulo.db", read_only=True) as store:
        assert store.count_pending() == 0


def test_csv_neutralises_formulas():
    from kuulo.export import write_csv

    row = dict.fromkeys(EXPORT_COLUMNS)
    row.update(title="=HYPERLINK(\"http://evil\")", text="+1 and -1", author="@bob",
               url="\tx", sentiment_score=-0.5)  # fmt: skip
    out = io.StringIO()
    write_csv([row], out)
    record = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert record["title"].startswith("'=")
    assert record["text"] == "'+1 and -1"
    assert record["author"] == "'@bob"
    assert record["url"] == "'\tx"
    assert record["sentiment_score"] == "-0.5"  # numbers are not text cells


def test_score_detects_language_reads_ratings_and_chooses_a_scorer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (
        "Olen erittäin pettynyt ja vihainen, huono palvelu\n"
        '{"text": "Nice little cafe, friendly staff", "rating": 1}\n'
    )
    lines = [json.loads(line) for line in invoke("score", input=text).output.splitlines()]
    assert lines[0]["label"] == "negative"  # detected as Finnish, scored by the Finnish model
    assert lines[1]["label"] == "negative"  # one star outweighs the friendly words
    assert "star" in lines[1]["reason"]
    assert 0 <= lines[1]["confidence"] <= 1
    vader = invoke("score", "--scorer", "vader", input="Kahvi oli kylmää\n").output
    assert json.loads(vader)["label"] == "unscored"
    assert json.loads(vader)["model"] == "vader"
