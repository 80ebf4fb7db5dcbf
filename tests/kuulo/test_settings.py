from datetime import timedelta
from pathlib import Path

import pytest

from kuulo import registry
from kuulo.errors import ConfigError
from kuulo.protocols import PluginConfig
from kuulo.settings import Secret, load_settings, parse_duration, resolve_config_path

GOOD = """
[kuulo]
database = "data/test.db"

[[brands]]
name = "Acme"
query = '("Acme Corp" OR @acme OR #acme) -"acme road"'
competitors = ["Globex"]

[[brands]]
name = "Globex"
query = "Globex"

[[sources]]
name = "acme-news"
kind = "rss"
every = "15m"
url = "https://example.com/feed.xml"
brands = ["Acme"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kuulo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, environ=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ or {})
    return str(info.value)


def test_the_documented_shape_loads(tmp_path):
    settings = load_settings(write(tmp_path, GOOD), {})
    assert settings.kuulo.database == Path("data/test.db")
    assert [b.name for b in settings.brands] == ["Acme", "Globex"]
    (source,) = settings.resolved_sources()
    assert source.kind == "rss"
    assert source.settings.every == timedelta(minutes=15)
    assert source.config.url == "https://example.com/feed.xml"
    assert source.disabled_reason is None


def test_the_example_config_is_valid():
    example = Path(__file__).parents[2] / "config" / "kuulo.example.toml"
    settings = load_settings(example, {})
    assert settings.brands
    assert settings.sources


def test_unknown_key_names_file_table_key_and_a_hint(tmp_path):
    message = problems(tmp_path, GOOD.replace('database = "data/test.db"', 'databse = "x"'))
    path = str(tmp_path / "kuulo.toml")
    assert message.startswith(path)
    assert "[kuulo], key 'databse': unknown key (did you mean 'database'?)" in message


def test_dashboard_tables_are_named_in_problems(tmp_path):
    body = (
        GOOD + '\n[dashboard]\nrequire_sign_in = "sometimes"\n[dashboard.oidc]\nclient_idd = "x"\n'
    )
    message = problems(tmp_path, body)
    assert "[dashboard], key 'require_sign_in'" in message
    assert "[dashboard.oidc], key 'client_idd': unknown key (did you mean 'client_id'?)" in message


def test_unknown_plugin_key_is_reported_against_its_source(tmp_path):
    message = problems(tmp_path, GOOD.replace("url =", "urll ="))
    assert "[[sources]] #1 (name = 'acme-news'), key 'urll': unknown key" in message
    assert "'url'" in message


def test_wrong_types_say_what_is_expected(tmp_path):
    text = GOOD.replace('every = "15m"', 'every = "often"').replace(
        "[kuulo]", '[kuulo]\nmax_parallel_sources = "four"'
    )
    message = problems(tmp_path, text)
    assert "[[sources]] #1, key 'every'" in message
    assert "duration" in message
    assert "[kuulo], key 'max_parallel_sources'" in message


def test_references_and_queries_are_checked(tmp_path):
    text = GOOD.replace('competitors = ["Globex"]', 'competitors = ["Initech"]')
    text = text.replace('query = "Globex"', 'query = "title:Globex"')
    text = text.replace('brands = ["Acme"]', 'brands = ["Acme", "Nope"]')
    message = problems(tmp_path, text)
    assert "no [[brands]] entry named 'Initech'" in message
    assert "no [[brands]] entry named 'Nope'" in message
    assert "[[brands]] #2 (name = 'Globex'), key 'query'" in message


def test_duplicate_names_and_unknown_kind(tmp_path):
    text = GOOD + GOOD[GOOD.index("[[sources]]") :].replace('kind = "rss"', 'kind = "myspace"')
    message = problems(tmp_path, text)
    assert "source names must be unique" in message
    assert "no kuulo.collectors plug-in named 'myspace'" in message


def test_invalid_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in problems(tmp_path, "[kuulo\n")
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", {})


def test_environment_overrides(tmp_path):
    env = {
        "KUULO_DATABASE": "other.db",
        "KUULO_DASHBOARD_PORT": "8600",
        "KUULO_HTTP__READ_TIMEOUT": "3.5",
        "KUULO_SENTIMENT__LANGUAGES": '["en", "sv"]',
        "KUULO_X_BEARER_TOKEN": "not-a-setting",
    }
    settings = load_settings(write(tmp_path, GOOD), env)
    assert settings.kuulo.database == Path("other.db")
    assert settings.kuulo.dashboard_port == 8600
    assert settings.http.read_timeout == 3.5
    assert settings.sentiment.languages == ("en", "sv")


def test_bad_environment_value_is_a_config_error(tmp_path):
    message = problems(tmp_path, GOOD, {"KUULO_DASHBOARD_PORT": "eighty"})
    assert "[kuulo], key 'dashboard_port'" in message


def test_config_path_precedence(tmp_path):
    assert resolve_config_path("a.toml", {"KUULO_CONFIG": "b.toml"}) == Path("a.toml")
    assert resolve_config_path(None, {"KUULO_CONFIG": "b.toml"}) == Path("b.toml")
    assert resolve_config_path(None, {}) == Path("config/kuulo.toml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), (45, 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "0m", "15", "1w", -5, True])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


class _TokenConfig(PluginConfig):
    url: str
    token: Secret


class _TokenCollector:
    kind = "tokened"
    Config = _TokenConfig


@pytest.fixture
def tokened_kind(monkeypatch):
    real_load = registry.load

    def load(group, name):
        return _TokenCollector if name == "tokened" else real_load(group, name)

    monkeypatch.setattr(registry, "load", load)


SECRET_SOURCE = """
[[brands]]
name = "Acme"
query = "acme"

[[sources]]
name = "api"
kind = "tokened"
url = "https://api.example.com"
token = { "$env" = "KUULO_TEST_TOKEN" }
"""


def test_env_secret_is_resolved_and_masked(tmp_path, tokened_kind):
    settings = load_settings(write(tmp_path, SECRET_SOURCE), {"KUULO_TEST_TOKEN": "s3cr3t-value"})
    (source,) = settings.resolved_sources()
    assert source.config.token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in repr(source)
    assert source.disabled_reason is None


def test_missing_secret_disables_the_source_and_names_the_variable(tmp_path, tokened_kind):
    settings = load_settings(write(tmp_path, SECRET_SOURCE), {})
    (source,) = settings.resolved_sources()
    assert source.disabled_reason == "disabled: set the environment variable KUULO_TEST_TOKEN"


def test_file_secret(tmp_path, tokened_kind):
    (tmp_path / "token.txt").write_text("from-a-file\n")
    text = SECRET_SOURCE.replace('{ "$env" = "KUULO_TEST_TOKEN" }', '{ "$file" = "token.txt" }')
    (source,) = load_settings(write(tmp_path, text), {}).resolved_sources()
    assert source.config.token.get_secret_value() == "from-a-file"


def test_literal_secret_is_refused_without_echoing_it(tmp_path, tokened_kind):
    text = SECRET_SOURCE.replace('{ "$env" = "KUULO_TEST_TOKEN" }', '"literal-s3cr3t"')
    message = problems(tmp_path, text)
    assert "key 'token'" in message
    assert '{ "$env" = "VARIABLE" }' in message
    assert "literal-s3cr3t" not in message


def test_errors_never_echo_secret_values(tmp_path, tokened_kind):
    text = SECRET_SOURCE.replace("url =", "urll =")
    message = problems(tmp_path, text, {"KUULO_TEST_TOKEN": "s3cr3t-value"})
    assert "urll" in message
    assert "s3cr3t-value" not in message
