"""The simple JSONPath subset CRDs use (printer columns, scale paths): fields, indexes, ``[*]`` and filters.

``.spec.replicas``, ``{.metadata.name}``, ``.spec.containers[0].image``, ``.items[*].name`` and
``.status.conditions[?(@.type=="Ready")].status`` are supported. Compile once, evaluate per object.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

Step = Callable[[list[Any]], list[Any]]
_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)
      | \[(?P<index>-?\d+)\]
      | \[(?P<star>\*)\]
      | \[['"](?P<quoted>[^'"]+)['"]\]
      | \[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fvalue>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
    """,
    re.VERBOSE,
)


class JSONPathError(ValueError):
    pass


@functools.lru_cache(maxsize=1024)
def compile_path(path: str) -> Callable[[Any], list[Any]]:
    """A function returning every value ``path`` selects in an object (an empty list when none)."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JSONPathError(f"unsupported JSONPath {path!r} at position {position}: {text[position:]!r}")
        steps.append(_step(match))
        position = match.end()

    def evaluate(obj: Any) -> list[Any]:
        values = [obj]
        for step in steps:
            values = step(values)
            if not values:
                break
        return values

    return evaluate


def first(obj: Any, path: str) -> Any:
    """The first value ``path`` selects, or None."""
    found = compile_path(path)(obj)
    return found[0] if found else None


def _step(match: re.Match[str]) -> Step:
    if match["field"] is not None or match["quoted"] is not None:
        key = match["field"] if match["field"] is not None else match["quoted"]
        return lambda values: [v[key] for v in values if isinstance(v, dict) and key in v]
    if match["index"] is not None:
        index = int(match["index"])
        return lambda values: [v[index] for v in values if isinstance(v, list) and -len(v) <= index < len(v)]
    if match["star"] is not None:
        return lambda values: [item for v in values if isinstance(v, list | dict)
                               for item in (v if isinstance(v, list) else v.values())]
    keys = match["fpath"].split(".")
    wanted = _literal(match["fvalue"])
    equal = match["op"] == "=="

    def matches(item: Any) -> bool:
        value = item
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return False
            value = value[key]
        return (value == wanted) == equal

    return lambda values: [item for v in values if isinstance(v, list) for item in v if matches(item)]


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text
