"""Documentation is tested: every setting is in the example config and every command in the
README."""

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from kuulo.cli import cli
from kuulo.settings import CoreSettings, HttpSettings, SentimentSettings, SourceSettings

ROOT = Path(__file__).parents[1]
EXAMPLE = (ROOT / "config" / "kuulo.example.toml").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def documented_keys(table: str) -> set[str]:
    """Keys set or commented out in one [table] of the example."""
    section = re.split(r"^\[", EXAMPLE, flags=re.M)
    body = next(s for s in section if s.startswith(f"{table}]"))
    return set(re.findall(r"^#?\s*([a-z_]+)\s*=", body, flags=re.M))


def test_every_core_setting_is_in_the_example():
    tables: dict[str, type[BaseModel]] = {
        "kuulo": CoreSettings,
        "http": HttpSettings,
        "sentiment": SentimentSettings,
    }
    for table, model in tables.items():
        missing = set(model.model_fields) - documented_keys(table)
        assert not missing, f"[{table}] keys missing from kuulo.example.toml: {missing}"


def test_every_source_key_and_kind_is_in_the_example():
    from kuulo import registry

    for kind in registry.available(registry.COLLECTORS):
        assert f'kind = "{kind}"' in EXAMPLE, kind
        collector = registry.load(registry.COLLECTORS, kind)
        for key in collector.Config.model_fields:
            assert re.search(rf"^#?\s*{key}\s*=", EXAMPLE, flags=re.M), f"{kind}.{key}"
    for key in SourceSettings.model_fields:
        assert key in EXAMPLE, key


def test_example_defaults_match_the_code():
    data = tomllib.loads(EXAMPLE)
    assert CoreSettings.model_validate(data["kuulo"]) == CoreSettings()
    assert HttpSettings.model_validate(data["http"]) == HttpSettings()
    assert SentimentSettings.model_validate(data["sentiment"]) == SentimentSettings()


def test_every_command_is_in_the_readme():
    for name in cli.commands:
        assert f"kuulo {name}" in README, name
    assert "kuulo config check" in README


def test_readme_puts_the_two_commands_first():
    first_code_block = README.split("```")[1]
    assert "make demo" in first_code_block
    assert "make test" in first_code_block
