"""Small runtime helpers the generated code calls where inline code would be too long.

They follow eKuiper's value semantics: null in, null out; bigint / bigint is integer division.
"""

from __future__ import annotations

import re
from typing import Any


class EvalError(Exception):
    """A message's value cannot be computed (wrong type, division by zero): counted, rule goes on."""


def _is_int(v: Any) -> bool:
    return type(v) is int


def div(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_int(a) and _is_int(b):
        if b == 0:
            raise EvalError("divided by zero")
        q = abs(a) // abs(b)  # Go truncates toward zero
        return q if (a >= 0) == (b >= 0) else -q
    if b == 0:
        raise EvalError("divided by zero")
    return a / b


def mod(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_int(a) and _is_int(b):
        if b == 0:
            raise EvalError("divided by zero")
        r = abs(a) % abs(b)  # sign follows the dividend, as in Go
        return r if a >= 0 else -r
    raise EvalError(f"invalid operation {type_name(a)}({a}) % {type_name(b)}({b})")


NUMBER_TYPES = frozenset({int, float})


def arith(op: str, a: Any, b: Any) -> Any:
    """The slow path of + - * & | ^: null gives null, anything but numbers is an error."""
    if a is None or b is None:
        return None
    if type(a) in NUMBER_TYPES and type(b) in NUMBER_TYPES:
        if op in "&|^" and (type(a) is float or type(b) is float):
            raise EvalError(f"invalid operation {type_name(a)}({a}) {op} {type_name(b)}({b})")
        return {"+": a + b, "-": a - b, "*": a * b}[op] if op in "+-*" else \
            {"&": a & b, "|": a | b, "^": a ^ b}[op]
    raise EvalError(f"invalid operation {type_name(a)}({a}) {op} {type_name(b)}({b})")


def type_name(v: Any) -> str:
    return {int: "int64", float: "float64", str: "string", bool: "bool", dict: "map", list: "array"}.get(
        type(v), type(v).__name__)


def member(base: Any, key: str) -> Any:
    return base.get(key) if type(base) is dict else None


def index(base: Any, i: Any) -> Any:
    if base is None or i is None:
        return None
    if not isinstance(base, list | str | bytes):
        raise EvalError(f"invalid operation: index {i} of {type_name(base)}")
    if type(i) is not int:
        raise EvalError(f"index must be an integer, found {type_name(i)}")
    n = len(base)
    if i < 0:
        i += n
    if 0 <= i < n:
        return base[i]
    raise EvalError(f"index {i} out of range for length {n}")


def slice_(base: Any, start: Any, end: Any) -> Any:
    if base is None:
        return None
    if not isinstance(base, list | str | bytes):
        raise EvalError(f"invalid operation: slice of {type_name(base)}")
    return base[start:end]


def compare_error(op: str, a: Any, b: Any) -> EvalError:
    return EvalError(f"invalid operation {type_name(a)}({a}) {op} {type_name(b)}({b})")


_LIKE_CACHE: dict[str, re.Pattern[str]] = {}


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE: % any run, _ one character, backslash escapes the next one."""
    compiled = _LIKE_CACHE.get(pattern)
    if compiled is None:
        out, i = [], 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\\" and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
            i += 1
        compiled = _LIKE_CACHE[pattern] = re.compile("".join(out), re.S)
    return compiled


def like(value: Any, pattern: Any) -> Any:
    if value is None or pattern is None:
        return False
    if type(value) is not str or type(pattern) is not str:
        raise EvalError(f"LIKE needs strings, found {type_name(value)} LIKE {type_name(pattern)}")
    return like_regex(pattern).fullmatch(value) is not None


def sort_key(v: Any) -> tuple[int, Any]:
    # Nulls first when ascending; numbers and strings each compare among themselves.
    if v is None:
        return (0, 0)
    if isinstance(v, int | float):
        return (1, v)
    return (2, str(v))


def join_get(row: dict[str, dict[str, Any]], name: str) -> Any:
    """An unqualified column in a joined row: the first stream that has it."""
    for part in row.values():
        if part and name in part:
            return part[name]
    return None


def merge_parts(row: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``SELECT *`` over a joined row: every stream's columns, the first stream winning a clash."""
    out: dict[str, Any] = {}
    for part in row.values():
        if part:
            for k, v in part.items():
                if k not in out:
                    out[k] = v
    return out


HIDDEN_PREFIX = "\x00"


def visible(m: dict[str, Any]) -> dict[str, Any]:
    """A row without the hidden columns where analytic results ride along."""
    return {k: v for k, v in m.items() if not k.startswith(HIDDEN_PREFIX)}
