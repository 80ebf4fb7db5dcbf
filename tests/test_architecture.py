"""The layout rule: plug-in folders import only `kuulo`, never each other; `kuulo` imports none
of them (it finds them through entry points)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PLUGIN_FOLDERS = ("collectors", "sentiment", "alerts", "dashboard")


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_spine_imports_no_plugin_folder():
    offenders = {
        str(p.relative_to(ROOT)): imported_top_levels(p) & set(PLUGIN_FOLDERS)
        for p in python_files("kuulo")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_plugin_folders_do_not_import_each_other():
    for folder in PLUGIN_FOLDERS:
        others = set(PLUGIN_FOLDERS) - {folder}
        for path in python_files(folder):
            assert not imported_top_levels(path) & others, path


def test_only_settings_reads_the_environment():
    readers = [
        str(p.relative_to(ROOT))
        for folder in ("kuulo", *PLUGIN_FOLDERS)
        for p in python_files(folder)
        if "os.environ" in p.read_text(encoding="utf-8")
        or "getenv" in p.read_text(encoding="utf-8")
    ]
    assert readers == ["kuulo/settings.py"]


def test_every_builtin_plugin_is_registered_as_an_entry_point():
    from kuulo import registry

    assert {"rss", "google_news"} <= set(registry.available(registry.COLLECTORS))
    assert "vader" in registry.available(registry.SCORERS)
    for kind in registry.available(registry.COLLECTORS):
        collector = registry.load(registry.COLLECTORS, kind)
        assert collector.kind == kind
        assert collector.Config.model_config.get("extra") == "forbid"
