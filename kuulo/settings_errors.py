"""Turning validation failures into one clear message: file, table, key, what is expected.

Input values are never echoed: a mistyped key may sit next to a secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_TOP_TABLES = {
    "kuulo": "[kuulo]",
    "http": "[http]",
    "sentiment": "[sentiment]",
    "alerts": "[alerts]",
    "dashboard": "[dashboard]",
}
_SUB_TABLES = {("dashboard", "oidc"): "[dashboard.oidc]"}
_ARRAY_TABLES = {
    "brands": "[[brands]]",
    "sources": "[[sources]]",
    "channels": "[[channels]]",
    "rules": "[[rules]]",
}


@dataclass(frozen=True)
class Problem:
    table: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.table if self.key is None else f"{self.table}, key {self.key!r}"
        return f"{where}: {self.message}"


def format_problems(path: Path | None, problems: Sequence[Problem]) -> str:
    """One message for the whole file, one line per problem."""
    head = f"{path or 'configuration'}: invalid configuration"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


def problems_from_validation(
    exc: ValidationError, table: str | None = None, known: Mapping[str, Iterable[str]] = {}
) -> list[Problem]:
    """Map pydantic errors to Problems.

    ``table`` is set when validating one table's dict (a plug-in Config); ``known`` maps a table
    label's prefix ("[kuulo]", "[[sources]]") to its valid keys, for "did you mean" hints.
    """
    errors = exc.errors(include_input=False, include_url=False)
    return [_problem(err, table, known) for err in errors]


def _problem(err: ErrorDetails, table: str | None, known: Mapping[str, Iterable[str]]) -> Problem:
    loc = [str(part) for part in err["loc"]]
    if table is None:
        table, loc = _split_table(loc)
    key = ".".join(loc) or None
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        candidates = next((list(v) for k, v in known.items() if table.startswith(k)), [])
        message = "unknown key" + _hint(key, candidates)
    elif err["type"] == "missing":
        message = "required key is missing"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return Problem(table, key, message)


def _split_table(loc: list[str]) -> tuple[str, list[str]]:
    if not loc:
        return "top level", []
    head = loc[0]
    if tuple(loc[:2]) in _SUB_TABLES:
        return _SUB_TABLES[(loc[0], loc[1])], loc[2:]
    if head in _TOP_TABLES:
        return _TOP_TABLES[head], loc[1:]
    if head in _ARRAY_TABLES and len(loc) > 1 and loc[1].isdigit():
        return f"{_ARRAY_TABLES[head]} #{int(loc[1]) + 1}", loc[2:]
    return "top level", loc


def _hint(key: str | None, candidates: list[str]) -> str:
    close = difflib.get_close_matches(key or "", candidates, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(sorted(candidates))})" if candidates else ""
