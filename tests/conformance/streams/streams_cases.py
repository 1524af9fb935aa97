"""Loading and validating the stream-engine conformance cases (``cases/<family>.yaml``).

Each file holds a list of cases. A case names the CREATE statements, the SELECT, the recorded input
(``{stream, timestamp, data}`` lines in arrival order) and either the emissions eKuiper produces
(``expect``) or a substring of the error it raises (``expect_error``). A malformed case file fails
loudly with the file, the case and the field at fault, so a typo never silently skips a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "cases"

_REQUIRED = ("name", "sql")
_ALLOWED = {
    "name", "streams", "tables", "sql", "options", "until", "input", "expect", "expect_error", "doc",
}


class CaseFileError(ValueError):
    """A case file does not follow the case format."""


@dataclass(frozen=True, slots=True)
class Case:
    family: str
    name: str
    sql: str
    streams: list[str]
    tables: list[str]
    input: list[dict[str, Any]]
    options: dict[str, Any] | None = None
    until: int | None = None
    expect: list[list[dict[str, Any]]] | None = None
    expect_error: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.family}::{self.name}"


def _fail(where: str, message: str) -> CaseFileError:
    return CaseFileError(f"{where}: {message}")


def _check_input(where: str, lines: Any) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        raise _fail(where, "'input' must be a list of {stream, timestamp, data} lines")
    for i, line in enumerate(lines):
        at = f"{where} input[{i}]"
        if not isinstance(line, dict) or not {"stream", "timestamp", "data"} <= line.keys():
            raise _fail(at, "each line needs 'stream', 'timestamp' and 'data'")
        if not isinstance(line["timestamp"], int) or isinstance(line["timestamp"], bool):
            raise _fail(at, f"'timestamp' must be integer milliseconds, got {line['timestamp']!r}")
        if i and line["timestamp"] < lines[i - 1]["timestamp"]:
            raise _fail(at, "lines must be in arrival order (timestamps never decrease)")
    return lines


def _check_expect(where: str, expect: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(expect, list) or not all(isinstance(e, list) for e in expect):
        raise _fail(where, "'expect' must be a list of emissions, each a list of rows")
    for i, emission in enumerate(expect):
        for j, row in enumerate(emission):
            if not isinstance(row, dict):
                raise _fail(where, f"expect[{i}][{j}] must be a mapping (one result row)")
    return expect


def _parse_case(family: str, index: int, raw: Any, path: Path) -> Case:
    where = f"{path.name} case #{index}"
    if not isinstance(raw, dict):
        raise _fail(where, "a case must be a mapping")
    where = f"{path.name} case {raw.get('name', '#' + str(index))!r}"
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise _fail(where, f"missing {', '.join(missing)}")
    unknown = set(raw) - _ALLOWED
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    if ("expect" in raw) == ("expect_error" in raw):
        raise _fail(where, "give exactly one of 'expect' and 'expect_error'")
    errors = raw.get("expect_error", [])
    if isinstance(errors, str):
        errors = [errors]
    if not all(isinstance(e, str) and e for e in errors):
        raise _fail(where, "'expect_error' must be a non-empty string or a list of them")
    until = raw.get("until")
    if until is not None and (not isinstance(until, int) or isinstance(until, bool)):
        raise _fail(where, f"'until' must be integer milliseconds, got {until!r}")
    options = raw.get("options")
    if options is not None and not isinstance(options, dict):
        raise _fail(where, "'options' must be a mapping")
    for key in ("streams", "tables"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise _fail(where, f"'{key}' must be a list of CREATE statements")
    return Case(
        family=family,
        name=str(raw["name"]),
        sql=raw["sql"],
        streams=list(raw.get("streams", [])),
        tables=list(raw.get("tables", [])),
        input=_check_input(where, raw.get("input", [])),
        options=options,
        until=until,
        expect=_check_expect(where, raw["expect"]) if "expect" in raw else None,
        expect_error=list(errors),
    )


def load_file(path: Path) -> list[Case]:
    family = path.stem
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise _fail(path.name, "a case file must be a YAML list of cases")
    cases = [_parse_case(family, i, item, path) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise _fail(path.name, f"duplicate case name {case.name!r}")
        seen.add(case.name)
    return cases


def load_all(directory: Path = CASES_DIR) -> list[Case]:
    return [case for path in sorted(directory.glob("*.yaml")) for case in load_file(path)]
