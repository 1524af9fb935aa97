"""String functions (eKuiper: docs/en_US/sqls/functions/string_functions.md).

Arguments are turned into text the way eKuiper does (``concat(1, "a")`` is ``"1a"``, nil is the empty
string). Nil handling follows eKuiper per function: most return nil, ``startswith``/``endswith``/
``regexp_matches`` return false, ``length``/``numbytes`` return 0 and ``indexof`` returns -1.
Regular expressions are compiled once per distinct pattern and reused.
"""

from __future__ import annotations

import re
from typing import Any

from edgeplane.streams.functions._declare import variadic_scalar
from edgeplane.streams.functions._values import bad_arg, fail, format_float_fixed, to_int, to_string_always
from edgeplane.streams.functions.registry import scalar

_text = to_string_always
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _regex(fn: str, pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            fail(fn, f"invalid regular expression {pattern!r}: {exc}")
        if len(_PATTERNS) > 1024:  # patterns built from data must not grow the cache without bound
            _PATTERNS.clear()
        _PATTERNS[pattern] = compiled
    return compiled


@variadic_scalar("concat", 1, doc="concat(a, b, ...): the arguments as text, nil as empty")
def concat(*args: Any) -> str:
    return "".join([a if type(a) is str else _text(a) for a in args])


@scalar("endswith", 2)
def endswith(s: Any, suffix: Any) -> bool:
    if s is None or suffix is None:
        return False
    return _text(s).endswith(_text(suffix))


@scalar("startswith", 2)
def startswith(s: Any, prefix: Any) -> bool:
    if s is None or prefix is None:
        return False
    return _text(s).startswith(_text(prefix))


@scalar("indexof", 2, doc="0-based index of the second argument in the first, -1 when absent")
def indexof(s: Any, sub: Any) -> int:
    if s is None or sub is None:
        return -1
    return _text(s).find(_text(sub))


@scalar("length", 1, doc="characters in a string, members of an array or struct; 0 for nil")
def length(s: Any) -> int:
    t = type(s)
    if t is str or t is list or t is dict:
        return len(s)
    if s is None:
        return 0
    return len(_text(s))


@scalar("numbytes", 1)
def numbytes(s: Any) -> int:
    if s is None:
        return 0
    if type(s) is bytes:
        return len(s)
    return len(_text(s).encode("utf-8"))


@scalar("lower", 1, null_in_null_out=True)
def lower(s: Any) -> str | None:
    return None if s is None else _text(s).lower()


@scalar("upper", 1, null_in_null_out=True)
def upper(s: Any) -> str | None:
    return None if s is None else _text(s).upper()


# eKuiper trims Unicode white space (Go's unicode.IsSpace); Python's str.strip() agrees.
@scalar("trim", 1, null_in_null_out=True)
def trim(s: Any) -> str | None:
    return None if s is None else _text(s).strip()


@scalar("ltrim", 1, null_in_null_out=True)
def ltrim(s: Any) -> str | None:
    return None if s is None else _text(s).lstrip()


@scalar("rtrim", 1, null_in_null_out=True)
def rtrim(s: Any) -> str | None:
    return None if s is None else _text(s).rstrip()


@scalar("lpad", 2, null_in_null_out=True, doc="lpad(s, n): s with n spaces added on the left")
def lpad(s: Any, n: Any) -> str | None:
    if s is None or n is None:
        return None
    return " " * to_int("lpad", 1, n) + _text(s)


@scalar("rpad", 2, null_in_null_out=True, doc="rpad(s, n): s with n spaces added on the right")
def rpad(s: Any, n: Any) -> str | None:
    if s is None or n is None:
        return None
    return _text(s) + " " * to_int("rpad", 1, n)


@scalar("regexp_matches", 2, doc="whether the string contains a match of the regular expression")
def regexp_matches(s: Any, pattern: Any) -> bool:
    if s is None or pattern is None:
        return False
    return _regex("regexp_matches", _text(pattern)).search(_text(s)) is not None


_GO_GROUP = re.compile(r"\$(\d+|\{\w+\})")


def _go_replacement(replacement: str) -> str:
    # Go's ReplaceAllString expands $1 / ${name}; Python's sub expects \g<1> / \g<name>.
    escaped = replacement.replace("\\", "\\\\")
    return _GO_GROUP.sub(lambda m: "\\g<" + m.group(1).strip("{}") + ">", escaped)


@scalar("regexp_replace", 3, null_in_null_out=True)
def regexp_replace(s: Any, pattern: Any, replacement: Any) -> str | None:
    if s is None or pattern is None or replacement is None:
        return None
    try:
        return _regex("regexp_replace", _text(pattern)).sub(_go_replacement(_text(replacement)), _text(s))
    except (re.error, IndexError) as exc:
        fail("regexp_replace", f"invalid replacement {replacement!r}: {exc}")


@scalar(
    "regexp_substring",
    2,
    null_in_null_out=True,
    aliases=("regexp_substr",),
    doc="the first substring matching the regular expression, empty when none matches",
)
def regexp_substring(s: Any, pattern: Any) -> str | None:
    if s is None or pattern is None:
        return None
    m = _regex("regexp_substring", _text(pattern)).search(_text(s))
    return m.group(0) if m else ""


@scalar(
    "substring",
    2,
    3,
    null_in_null_out=True,
    doc="substring(s, start[, end]): characters from start (0-based, inclusive) to end (exclusive)",
)
def substring(s: Any, start: Any, end: Any = None) -> str | None:
    if s is None or start is None:
        return None
    text = _text(s)
    begin = to_int("substring", 1, start)
    if begin < 0:
        fail("substring", f"start index must not be negative, got {begin}")
    if end is None:
        return text[begin:]
    stop = to_int("substring", 2, end)
    if stop < 0:
        fail("substring", f"end index must not be negative, got {stop}")
    if begin > stop:
        fail("substring", f"start index {begin} must not be greater than end index {stop}")
    return text[begin:stop]


@scalar(
    "split_value",
    3,
    null_in_null_out=True,
    doc="split_value(s, sep, i): the i-th part (negative from the end) of s split by sep",
)
def split_value(s: Any, sep: Any, index: Any) -> str | None:
    if s is None or sep is None or index is None:
        return None
    separator = _text(sep)
    # Go's strings.Split with "" splits into characters.
    parts = _text(s).split(separator) if separator else list(_text(s))
    i = to_int("split_value", 2, index)
    if i >= len(parts) or i < -len(parts):
        fail("split_value", f"index {i} out of range for {len(parts)} parts")
    return parts[i]


@scalar("reverse", 1, null_in_null_out=True)
def reverse(s: Any) -> str | None:
    return None if s is None else _text(s)[::-1]


def _format_en_us(x: int | float, d: int) -> str:
    # eKuiper's en_US formatting groups thousands and truncates (does not round) the decimals.
    text = _text(x) if type(x) is int else format_float_fixed(x)
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    if d > 0:
        grouped += "." + fraction[:d].ljust(d, "0")
    return ("-" if negative else "") + grouped


@scalar(
    "format",
    2,
    3,
    null_in_null_out=True,
    doc="format(x, d[, locale]): x rounded to d decimals; with en_US grouped and truncated",
)
def format_(x: Any, decimals: Any, locale: Any = None) -> str | None:
    if x is None or decimals is None:
        return None
    t = type(x)
    if t is not int and t is not float:
        bad_arg("format", 0, "a number", x)
    d = to_int("format", 1, decimals)
    if d < 0:
        fail("format", f"the decimal places must be 0 or more, got {d}")
    if locale is None:
        return f"{x:.{d}f}"
    if _text(locale) != "en_US":
        fail("format", f"unsupported locale {_text(locale)!r}, supported: en_US")
    return _format_en_us(x, d)
