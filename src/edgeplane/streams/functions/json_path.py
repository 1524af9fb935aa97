"""JSON functions (eKuiper: docs/en_US/sqls/functions/json_functions.md): to_json, parse_json and the
JSONPath queries json_path_exists, json_path_query and json_path_query_first."""

from __future__ import annotations

import json
from typing import Any

from edgeplane.streams.functions._jsonpath import JsonPathError, compile_path
from edgeplane.streams.functions._values import fail, to_json, to_str
from edgeplane.streams.functions.registry import scalar


@scalar("to_json", 1, doc='the value as a JSON string (nil gives "null")')
def to_json_(value: Any) -> str:
    if value is None:
        return "null"
    return to_json(value)


@scalar("parse_json", 1, null_in_null_out=True, doc='a JSON string as a value (nil and "null" give nil)')
def parse_json(text: Any) -> Any:
    if text is None or text == "null":
        return None
    try:
        return json.loads(to_str("parse_json", 0, text))
    except json.JSONDecodeError as exc:
        fail("parse_json", f"invalid JSON at position {exc.pos}: {exc.msg}")


def _query(fn: str, data: Any, path: Any) -> Any:
    try:
        return compile_path(to_str(fn, 1, path)).evaluate(data)
    except JsonPathError as exc:
        fail(fn, f"{exc} (path {path!r})")


@scalar("json_path_exists", 2, doc="whether the JSONPath matches anything in the value")
def json_path_exists(data: Any, path: Any) -> bool:
    if data is None:
        return False
    try:
        result = compile_path(to_str("json_path_exists", 1, path)).evaluate(data)
    except JsonPathError:
        return False
    if type(result) is list:
        return len(result) > 0
    return result is not None


@scalar("json_path_query", 2, null_in_null_out=True, doc="the value(s) the JSONPath selects")
def json_path_query(data: Any, path: Any) -> Any:
    if data is None:
        return None
    return _query("json_path_query", data, path)


@scalar("json_path_query_first", 2, null_in_null_out=True, doc="the first value the JSONPath selects")
def json_path_query_first(data: Any, path: Any) -> Any:
    if data is None:
        return None
    result = _query("json_path_query_first", data, path)
    if type(result) is list:
        return result[0] if result else None
    return result
