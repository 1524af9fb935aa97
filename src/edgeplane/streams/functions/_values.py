"""Value coercions shared by the function families, with eKuiper's conversion rules.

Stream values are plain Python objects: bigint ``int``, float ``float``, string ``str``, boolean ``bool``,
bytea ``bytes``, datetime ``datetime.datetime``, array ``list``, struct ``dict``, nil ``None``.
The helpers take the fast path first (an exact ``type()`` check) and only then fall back to conversion,
so a well-typed call costs one comparison.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from edgeplane.streams.functions.registry import FunctionError

_TYPE_NAMES: dict[type, str] = {
    bool: "boolean",
    int: "bigint",
    float: "float",
    str: "string",
    bytes: "bytea",
    bytearray: "bytea",
    datetime: "datetime",
    list: "array",
    tuple: "array",
    dict: "struct",
    type(None): "nil",
}

_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def type_name(value: Any) -> str:
    """The stream SQL type name of a value, for error messages."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type_name(value)} {text}"


def bad_arg(fn: str, index: int, expected: str, value: Any) -> NoReturn:
    """Raise the catalogue's standard error: which function, which argument, what it needed, what it got."""
    position = _ORDINALS[index] if index < len(_ORDINALS) else f"#{index + 1}"
    raise FunctionError(f"{fn}: {position} argument must be {expected}, got {describe(value)}")


def fail(fn: str, message: str) -> NoReturn:
    raise FunctionError(f"{fn}: {message}")


def to_float(fn: str, index: int, value: Any) -> float:
    """A number as float (eKuiper CONVERT_SAMEKIND: ints and floats, never strings or booleans)."""
    t = type(value)
    if t is float:
        return value
    if t is int:
        return float(value)
    bad_arg(fn, index, "a number", value)


def to_int(fn: str, index: int, value: Any) -> int:
    """An integer (eKuiper STRICT: ints, and floats with no fractional part as JSON gives them)."""
    t = type(value)
    if t is int:
        return value
    if t is float and value.is_integer():
        return int(value)
    bad_arg(fn, index, "an integer", value)


def to_str(fn: str, index: int, value: Any) -> str:
    """A string argument (bytes are decoded as UTF-8, as eKuiper treats []byte as text)."""
    t = type(value)
    if t is str:
        return value
    if t is bytes or t is bytearray:
        return value.decode("utf-8", "replace")
    bad_arg(fn, index, "a string", value)


def to_list(fn: str, index: int, value: Any) -> list:
    if type(value) is list:
        return value
    if type(value) is tuple:
        return list(value)
    bad_arg(fn, index, "an array", value)


def to_dict(fn: str, index: int, value: Any) -> dict:
    if type(value) is dict:
        return value
    bad_arg(fn, index, "an object", value)


def to_bool(fn: str, index: int, value: Any) -> bool:
    if type(value) is bool:
        return value
    bad_arg(fn, index, "a boolean", value)


def is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is float


# --- formatting as Go prints values -------------------------------------------------------------


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite, non-zero float and its decimal exponent (d.ddd x 10^exp)."""
    _, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + exponent - 1


def format_float_fixed(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if repr(value).startswith("-") else "0"
    text = format(Decimal(repr(value)).normalize(), "f")
    return text


def format_float_v(value: float) -> str:
    """Go's fmt %v for float64: shortest digits, exponent form below 1e-4 or from 1e21 on."""
    if value != value or value in (float("inf"), float("-inf")) or value == 0:
        return format_float_fixed(value)
    digits, exponent = _float_digits(abs(value))
    if -4 <= exponent < 21:
        return format_float_fixed(value)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def to_string_always(value: Any) -> str:
    """eKuiper's ToStringAlways (fmt %v): any value as text, nil as the empty string."""
    t = type(value)
    if t is str:
        return value
    if value is None:
        return ""
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return format_float_v(value)
    if t is bytes or t is bytearray:
        return value.decode("utf-8", "replace")
    if t is datetime:
        return format_datetime_default(value)
    if t is list or t is tuple:
        return "[" + " ".join(to_string_always(v) for v in value) + "]"
    if t is dict:
        return "map[" + " ".join(f"{k}:{to_string_always(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def to_string_convert_all(fn: str, index: int, value: Any) -> str:
    """eKuiper's ToString(CONVERT_ALL), used by cast(x, "string"): scalars to text, structures to JSON."""
    t = type(value)
    if t is str:
        return value
    if t is float:
        return format_float_fixed(value)
    if t is list or t is dict:
        return to_json(value)
    if value is None:
        return ""
    return to_string_always(value)


def format_datetime_default(value: datetime) -> str:
    """eKuiper's default datetime layout "2006-01-02T15:04:05.000Z07:00" (Z for UTC)."""
    text = value.isoformat(timespec="milliseconds")
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


# --- JSON as Go's encoding/json writes it -------------------------------------------------------

_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _go_json_ready(value: Any) -> Any:
    t = type(value)
    if t is float:
        # Go writes integral floats without a fraction and large ones with an exponent.
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        return value
    if t is dict:
        return {str(k): _go_json_ready(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_go_json_ready(v) for v in value]
    if t is bytes or t is bytearray:
        import base64

        return base64.b64encode(value).decode("ascii")
    if t is datetime:
        return value.isoformat().replace("+00:00", "Z")
    return value


def to_json(value: Any) -> str:
    """A value as compact JSON with sorted keys and HTML-safe escapes, as Go's json.Marshal writes it."""
    try:
        text = json.dumps(
            _go_json_ready(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise FunctionError(f"to_json: cannot encode {describe(value)}: {exc}") from None
    return text.translate(_HTML_ESCAPES)


# --- equality and hashing with eKuiper's notion of sameness ---------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal as eKuiper compares array elements: numbers by value, booleans never equal to numbers."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    return a == b


def hash_key(value: Any) -> Any:
    """A hashable key for set operations that keeps ``true`` apart from ``1`` and handles structures."""
    t = type(value)
    if t is bool:
        return ("b", value)
    if t is int or t is float:
        return ("n", value)
    if t is list or t is dict or t is tuple:
        return ("j", to_json(value))
    return ("o", value)
