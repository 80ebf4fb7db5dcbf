"""Metrics (pure functions), `kuulo sentiment eval` and the sentiment benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kuulo.bench_sentiment import main as bench_main
from kuulo.bench_sentiment import measure_sentiment
from kuulo.cli_sentiment import sentiment_group
from kuulo.evaluation import (
    LabelledText,
    Metrics,
    metrics,
    metrics_by_language,
    read_jsonl,
    table_lines,
)


def test_metrics_by_hand():
    gold = ["negative", "negative", "negative", "neutral", "positive", "positive"]
    pred = ["negative", "negative", "neutral", "negative", "positive", "neutral"]
    m = metrics(gold, pred)
    # negative: tp 2, predicted 3, actual 3 -> P = R = F1 = 2/3
    assert (m.neg_precision, m.neg_recall, m.neg_f1) == (0.6667, 0.6667, 0.6667)
    # neutral: tp 0 -> F1 0; positive: P 1, R 1/2 -> F1 2/3; macro (2/3 + 0 + 2/3) / 3
    assert m.macro_f1 == 0.4444
    assert m.accuracy == 0.5
    assert (m.n, m.unscored) == (6, 0)


def test_macro_f1_is_over_the_labels_that_occur():
    assert metrics(["negative", "neutral"], ["negative", "neutral"]).macro_f1 == 1.0
    assert metrics(["positive"], ["neutral"]).macro_f1 == 0.0


def test_unscored_is_counted_as_wrong():
    m = metrics(["negative", "positive"], ["unscored", "positive"])
    assert m.unscored == 1
    assert m.accuracy == 0.5
    assert m.neg_recall == 0.0


def test_metrics_edge_cases():
    assert metrics([], []) == Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="2 gold labels but 1 predictions"):
        metrics(["negative", "neutral"], ["negative"])


def test_metrics_by_language_groups_and_puts_all_last():
    rows = [
        ("fi", "negative", "negative"),
        ("en", "neutral", "positive"),
        (None, "positive", "positive"),
    ]
    result = metrics_by_language(rows)
    assert list(result) == ["?", "en", "fi", "all"]
    assert result["all"].n == 3
    assert result["fi"].neg_f1 == 1.0
    lines = table_lines(result)
    assert lines[0].split() == [
        "language",
        "n",
        "neg",
        "P",
        "neg",
        "R",
        "neg",
        "F1",
        "macro-F1",
        "acc",
        "unscored",
    ]
    assert lines[-1].startswith("all")


def test_read_jsonl(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"text": "hyvä", "label": "positive", "language": "fi"}\n\n'
        '{"text": "bad", "label": "negative"}\n',
        encoding="utf-8",
    )
    assert read_jsonl(path) == [
        LabelledText("hyvä", "positive", "fi"),
        LabelledText("bad", "negative", None),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{nope", "rows.jsonl:2: not JSON"),
        ('{"label": "negative"}', 'rows.jsonl:2: expected an object with a "text" string'),
        ('{"text": "x", "label": "mixed"}', "label must be one of negative, neutral, positive"),
        ('{"text": "x", "label": "neutral", "language": 3}', '"language" must be a string'),
    ],
)
def test_read_jsonl_names_the_bad_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok", "label": "neutral"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_jsonl(path)


# -- the command ---------------------------------------------------------------------------------

ROWS = [
    ("Worst customer service I have ever experienced.", "negative", "en"),
    ("Thank you so much for the quick help, great service", "positive", "en"),
    ("The shop opens at nine on Mondays.", "neutral", "en"),
    ("Surkea palvelu, jonotin tunnin turhaan.", "negative", "fi"),
    ("Kiitos nopeasta avusta, loistavaa palvelua ja ihana henkilökunta", "positive", None),
]


@pytest.fixture
def labelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no config file here: the [sentiment] defaults apply
    path = tmp_path / "dev.jsonl"
    lines = [
        {"text": text, "label": label} | ({"language": language} if language else {})
        for text, label, language in ROWS
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    return path


def eval_lines(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(sentiment_group, ["eval", *args])
    return result.exit_code, result.output.splitlines()


def test_eval_prints_metrics_per_language(labelled: Path):
    code, lines = eval_lines(str(labelled))
    assert code == 0, lines
    assert lines[0].startswith("scorer default ")
    table = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(table) == ["en", "fi", "all"]  # the unlabelled Finnish row was detected
    assert table["all"][:1] == ["5"]
    assert table["all"][-3:] == ["1.000", "1.000", "0"]  # macro-F1, accuracy, unscored


def test_eval_with_another_scorer(labelled: Path):
    code, lines = eval_lines(str(labelled), "--scorer", "vader")
    assert code == 0, lines
    assert lines[0].startswith("scorer vader ")
    fi = next(line.split() for line in lines if line.startswith("fi "))
    assert fi[-1] == "2"  # VADER does not read Finnish: both rows unscored (and wrong)


def test_eval_errors_are_one_clear_message(labelled: Path, tmp_path: Path):
    code, lines = eval_lines(str(labelled), "--scorer", "nope")
    assert code == 1
    assert "no kuulo.scorers plug-in named 'nope'" in "\n".join(lines)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "meh"}\n', encoding="utf-8")
    code, lines = eval_lines(str(bad))
    assert code == 1
    assert "bad.jsonl:1: label must be one of" in "\n".join(lines)


# -- the benchmark -------------------------------------------------------------------------------


def test_bench_skips_without_the_development_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert measure_sentiment(tmp_path / "absent") == {}
    bench_main(tmp_path / "absent")
    assert "sentiment benchmark skipped: no development data" in capsys.readouterr().out


def test_bench_measures_both_scorers_on_each_split(tmp_path: Path):
    (tmp_path / "tweet_sentiment_extraction.tsv").write_text(
        "part\tid\tlabel\tselected_text\ttext\n"
        "test\ta\tnegative\tawful\tawful awful service\n"
        "test\tb\tpositive\tlove\tI love it\n"
        "train\tc\tneutral\tx\tnot in the test part\n",
        encoding="utf-8",
    )
    (tmp_path / "finnsentiment_split01-18.tsv").write_text(
        "split\tlabel\ttext\n17\tnegative\tSurkea palvelu\n3\tneutral\tei mukana\n",
        encoding="utf-8",
    )
    results = measure_sentiment(tmp_path)
    assert list(results) == ["tse_test_en", "finnsentiment_17_18_fi"]
    for by_scorer in results.values():
        assert list(by_scorer) == ["vader", "default"]
        for figures in by_scorer.values():
            assert {
                "neg_precision",
                "neg_recall",
                "neg_f1",
                "macro_f1",
                "accuracy",
                "texts_per_s",
            } <= set(figures)
    assert results["tse_test_en"]["default"]["n"] == 2
    assert results["finnsentiment_17_18_fi"]["default"]["neg_recall"] == 1.0
    assert results["finnsentiment_17_18_fi"]["vader"]["unscored"] == 1
