"""The namespace and name supply shared by the pieces of one rule's generated module."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from edgeplane.streams.compiler import helpers


class CodeEnv:
    """Globals of a rule's generated code: helpers, constants and function implementations."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "_div": helpers.div, "_mod": helpers.mod, "_member": helpers.member, "_index": helpers.index,
            "_slice": helpers.slice_, "_like": helpers.like, "_join_get": helpers.join_get,
            "_merge": helpers.merge_parts, "_visible": helpers.visible, "_sort_key": helpers.sort_key,
            "_EvalError": helpers.EvalError, "_arith": helpers.arith, "_NUM": helpers.NUMBER_TYPES,
        }
        self._ids = itertools.count()
        self.uses_context = False  # a compiled call reads the rule context (meta, event_time, ...)
        self._bound: dict[int, str] = {}

    def bind(self, value: Any, prefix: str = "_k") -> str:
        """A global name for ``value`` (the same name when bound twice)."""
        key = id(value)
        if key in self._bound and self.ns[self._bound[key]] is value:
            return self._bound[key]
        name = f"{prefix}{next(self._ids)}"
        self.ns[name] = value
        self._bound[key] = name
        return name

    def temp(self) -> str:
        return f"_t{next(self._ids)}"

    def build(self, source: str, name: str) -> Callable[..., Any]:
        """Compile generated source once and return the function it defines."""
        code = compile(source, f"<rule {name}>", "exec")
        exec(code, self.ns)
        return self.ns[name]


def indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + line if line else line for line in lines]
