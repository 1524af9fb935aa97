"""Mathematical functions (eKuiper: docs/en_US/sqls/functions/mathematical_functions.md).

eKuiper's typing is kept: ``abs`` keeps the argument's type, the rounding family (ceil, floor, round) and
the transcendental functions return floats, ``sign`` and the bit functions return bigints. A result that is
not a number (``sqrt(-1)``, ``acos(2)``) is nil, as in eKuiper.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from edgeplane.streams.functions._declare import alias
from edgeplane.streams.functions._values import bad_arg, fail, to_float, to_int
from edgeplane.streams.functions.registry import scalar

_isfinite = math.isfinite


def _unary_float(name: str, op: Callable[[float], float]) -> None:
    """Register a float -> float function; domain errors and NaN give nil, as eKuiper returns nil for NaN."""

    def impl(x: Any) -> float | None:
        t = type(x)
        if t is not float and t is not int:
            if x is None:
                return None
            x = to_float(name, 0, x)
        try:
            r = op(x)
        except (ValueError, OverflowError):
            return None
        return None if r != r else r

    impl.__name__ = name
    scalar(name, 1, null_in_null_out=True, doc=f"{name}(x) as a float")(impl)


for _name, _op in {
    "acos": math.acos,
    "asin": math.asin,
    "atan": math.atan,
    "cos": math.cos,
    "cosh": math.cosh,
    "exp": math.exp,
    "ln": math.log,
    "sin": math.sin,
    "sinh": math.sinh,
    "sqrt": math.sqrt,
    "tan": math.tan,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "ceil": lambda v: float(math.ceil(v)),
    "floor": lambda v: float(math.floor(v)),
    "cot": lambda v: 1.0 / math.tan(v),
}.items():
    _unary_float(_name, _op)

alias("ceil", "ceiling")


@scalar("abs", 1, null_in_null_out=True)
def abs_(x: Any) -> int | float | None:
    t = type(x)
    if t is int or t is float:
        return abs(x)
    if x is None:
        return None
    bad_arg("abs", 0, "a number", x)


@scalar("atan2", 2, null_in_null_out=True)
def atan2(y: Any, x: Any) -> float | None:
    if y is None or x is None:
        return None
    return math.atan2(to_float("atan2", 0, y), to_float("atan2", 1, x))


def _bitwise(name: str, op: Callable[[int, int], int]) -> None:
    def impl(a: Any, b: Any) -> int | None:
        if type(a) is int and type(b) is int:
            return op(a, b)
        if a is None or b is None:
            return None
        return op(to_int(name, 0, a), to_int(name, 1, b))

    impl.__name__ = name
    scalar(name, 2, null_in_null_out=True, doc=f"{name}(a, b) on bigints")(impl)


_bitwise("bitand", int.__and__)
_bitwise("bitor", int.__or__)
_bitwise("bitxor", int.__xor__)


@scalar("bitnot", 1, null_in_null_out=True)
def bitnot(a: Any) -> int | None:
    if a is None:
        return None
    return ~to_int("bitnot", 0, a)


@scalar("log", 1, 2, null_in_null_out=True, doc="log(x) base 10, or log(b, x) base b; nil when undefined")
def log(a: Any, b: Any = None) -> float | None:
    if a is None:
        return None
    if b is None:
        x = to_float("log", 0, a)
        return math.log10(x) if x > 0 else None
    base, x = to_float("log", 0, a), to_float("log", 1, b)
    if x <= 0 or base <= 1:
        return None
    return math.log(x) / math.log(base)


@scalar("mod", 2, null_in_null_out=True, doc="remainder with the dividend's sign (Go's math.Mod)")
def mod(a: Any, b: Any) -> int | float | None:
    if type(a) is int and type(b) is int:
        if b == 0:
            return None  # as for floats: Go's math.Mod gives NaN, which eKuiper turns into nil
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    if a is None or b is None:
        return None
    divisor = to_float("mod", 1, b)
    if divisor == 0:
        return None  # Go's math.Mod gives NaN, which eKuiper turns into nil
    return math.fmod(to_float("mod", 0, a), divisor)


@scalar("power", 2, null_in_null_out=True)
def power(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    try:
        r = math.pow(to_float("power", 0, a), to_float("power", 1, b))
    except (ValueError, OverflowError):
        return None
    return r


alias("power", "pow")


@scalar("pi", 0)
def pi() -> float:
    return math.pi


@scalar("rand", 0)
def rand() -> float:
    return random.random()


def _round_half_away(x: float) -> float:
    # Go's math.Round rounds half away from zero; Python's round() rounds half to even.
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


@scalar("round", 1, 2, null_in_null_out=True, doc="round(x) or round(x, digits), halves away from zero")
def round_(x: Any, digits: Any = None) -> float | None:
    if x is None:
        return None
    v = to_float("round", 0, x)
    if not _isfinite(v):
        return v
    if digits is None:
        return float(_round_half_away(v))
    d = to_int("round", 1, digits)
    scale = 10.0**d
    scaled = v * scale
    if not _isfinite(scaled):
        return v
    return _round_half_away(scaled) / scale


@scalar("sign", 1, null_in_null_out=True)
def sign(x: Any) -> int | None:
    if x is None:
        return None
    v = x if type(x) is int else to_float("sign", 0, x)
    return 1 if v > 0 else -1 if v < 0 else 0


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@scalar("conv", 3, null_in_null_out=True, doc="conv(n, from_base, to_base): a number between bases 2..36")
def conv(n: Any, from_base: Any, to_base: Any) -> str | None:
    if n is None or from_base is None or to_base is None:
        return None
    src, dst = to_int("conv", 1, from_base), to_int("conv", 2, to_base)
    if not (2 <= abs(src) <= 36 and 2 <= abs(dst) <= 36):
        fail("conv", f"bases must be between 2 and 36, got {src} and {dst}")
    text = str(n) if type(n) is int else n if type(n) is str else None
    if text is None:
        bad_arg("conv", 0, "a string or bigint", n)
    try:
        value = int(text.strip(), abs(src))
    except ValueError:
        fail("conv", f"{text!r} is not a number in base {abs(src)}")
    if value == 0:
        return "0"
    negative, value = value < 0, abs(value)
    out = []
    while value:
        value, r = divmod(value, abs(dst))
        out.append(_DIGITS[r])
    return ("-" if negative else "") + "".join(reversed(out)).upper()
