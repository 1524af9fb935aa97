"""Transform functions (eKuiper: docs/en_US/sqls/functions/transform_functions.md): cast, time zones,
base64, compression, trunc, chr and hexadecimal conversion."""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from edgeplane.streams.functions._time import to_datetime, to_millis, zone
from edgeplane.streams.functions._values import (
    bad_arg,
    describe,
    fail,
    to_int,
    to_str,
    to_string_convert_all,
)
from edgeplane.streams.functions.registry import NOT_CONSTANT, FunctionError, scalar

_TRUE_TEXT = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_TEXT = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _cannot(value: Any, target: str) -> FunctionError:
    return FunctionError(f"cast: cannot convert {describe(value)} to {target}")


def _to_bigint(value: Any) -> int:
    t = type(value)
    if t is int:
        return value
    if t is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _cannot(value, "bigint")
        return int(value)
    if t is bool:
        return int(value)
    if t is str:
        try:
            return int(value.strip(), 10)
        except ValueError:
            raise _cannot(value, "bigint") from None
    raise _cannot(value, "bigint")


def _to_float(value: Any) -> float:
    t = type(value)
    if t is float:
        return value
    if t is int or t is bool:
        return float(value)
    if t is str:
        try:
            return float(value.strip())
        except ValueError:
            raise _cannot(value, "float") from None
    raise _cannot(value, "float")


def _to_boolean(value: Any) -> bool:
    t = type(value)
    if t is bool:
        return value
    if t is int or t is float:
        return value != 0
    if t is str:
        if value in _TRUE_TEXT:
            return True
        if value in _FALSE_TEXT:
            return False
    raise _cannot(value, "boolean")


def _to_bytea(value: Any) -> bytes:
    t = type(value)
    if t is bytes:
        return value
    if t is bytearray:
        return bytes(value)
    if t is str:
        # bytea travels as base64 text in JSON, so a string is decoded.
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _cannot(value, "bytea (a string must be base64)") from None
    raise _cannot(value, "bytea")


def _to_datetime(value: Any) -> datetime:
    if type(value) in (datetime, int, float, str):
        return to_datetime("cast", 0, value)
    raise _cannot(value, "datetime")


_CASTS = {
    "bigint": _to_bigint,
    "float": _to_float,
    "string": lambda v: to_string_convert_all("cast", 0, v),
    "boolean": _to_boolean,
    "bytea": _to_bytea,
    "datetime": _to_datetime,
}


def _check_cast_type(args: tuple[Any, ...]) -> None:
    target = args[1]
    if target is not NOT_CONSTANT and (type(target) is not str or target not in _CASTS):
        fail("cast", f"unknown type {target!r}, expected one of: {', '.join(_CASTS)}")


@scalar(
    "cast",
    2,
    null_in_null_out=True,
    constant_args=(1,),
    validate_args=_check_cast_type,
    doc='cast(x, "bigint"|"float"|"string"|"boolean"|"bytea"|"datetime")',
)
def cast(value: Any, target: Any) -> Any:
    if value is None:
        return None
    convert = _CASTS.get(target) if type(target) is str else None
    if convert is None:
        fail("cast", f"unknown type {target!r}, expected one of: {', '.join(_CASTS)}")
    return convert(value)


@scalar(
    "convert_tz", 2, null_in_null_out=True, doc='convert_tz(time, "Asia/Shanghai"): the time in that zone'
)
def convert_tz(value: Any, tz: Any) -> datetime | None:
    if value is None or tz is None:
        return None
    return to_datetime("convert_tz", 0, value).astimezone(zone(to_str("convert_tz", 1, tz)))


@scalar("to_seconds", 1, null_in_null_out=True, doc="to_seconds(time): seconds since the Unix epoch")
def to_seconds(value: Any) -> int | None:
    if value is None:
        return None
    return to_millis(to_datetime("to_seconds", 0, value)) // 1000


def _check_base64(fn: str, scheme: Any) -> None:
    if type(scheme) is not str or scheme.lower() != "base64":
        fail(fn, f"unsupported encoding {scheme!r}, only base64 is supported")


@scalar(
    "encode", 2, null_in_null_out=True, constant_args=(1,), doc='encode(x, "base64"): text or bytes as base64'
)
def encode(value: Any, scheme: Any) -> str | None:
    if value is None:
        return None
    _check_base64("encode", scheme)
    t = type(value)
    if t is str:
        data = value.encode("utf-8")
    elif t is bytes or t is bytearray:
        data = bytes(value)
    else:
        bad_arg("encode", 0, "a string or bytea", value)
    return base64.b64encode(data).decode("ascii")


@scalar(
    "decode", 2, null_in_null_out=True, constant_args=(1,), doc='decode(s, "base64"): base64 text as bytea'
)
def decode(value: Any, scheme: Any) -> bytes | None:
    if value is None:
        return None
    _check_base64("decode", scheme)
    try:
        return base64.b64decode(to_str("decode", 0, value), validate=True)
    except (binascii.Error, ValueError) as exc:
        fail("decode", f"invalid base64 input: {exc}")


def _zstd() -> Any:
    try:
        import zstandard  # optional: only needed for the zstd method
    except ImportError:
        return None
    return zstandard


def _compress(method: str, data: bytes) -> bytes:
    if method == "zlib":
        return zlib.compress(data)
    if method == "gzip":
        return gzip.compress(data, mtime=0)
    if method == "flate":
        packer = zlib.compressobj(wbits=-15)
        return packer.compress(data) + packer.flush()
    if method == "zstd" and (zstd := _zstd()) is not None:
        return zstd.ZstdCompressor().compress(data)
    raise ValueError(method)


def _decompress(method: str, data: bytes) -> bytes:
    if method == "zlib":
        return zlib.decompress(data)
    if method == "gzip":
        return gzip.decompress(data)
    if method == "flate":
        return zlib.decompress(data, wbits=-15)
    if method == "zstd" and (zstd := _zstd()) is not None:
        return zstd.ZstdDecompressor().decompressobj().decompress(data)
    raise ValueError(method)


def _payload(fn: str, value: Any) -> bytes:
    t = type(value)
    if t is bytes:
        return value
    if t is str:
        return value.encode("utf-8")
    if t is bytearray:
        return bytes(value)
    bad_arg(fn, 0, "a string or bytea", value)


_METHODS = "zlib, gzip, flate, zstd (zstd needs the zstandard package)"


@scalar(
    "compress", 2, null_in_null_out=True, constant_args=(1,), doc="compress(x, 'zlib'|'gzip'|'flate'|'zstd')"
)
def compress(value: Any, method: Any) -> bytes | None:
    if value is None:
        return None
    try:
        return _compress(str(method), _payload("compress", value))
    except ValueError:
        fail("compress", f"unsupported method {method!r}, supported: {_METHODS}")


@scalar(
    "decompress",
    2,
    null_in_null_out=True,
    constant_args=(1,),
    doc="decompress(x, 'zlib'|'gzip'|'flate'|'zstd')",
)
def decompress(value: Any, method: Any) -> bytes | None:
    if value is None:
        return None
    data = _payload("decompress", value)
    try:
        return _decompress(str(method), data)
    except ValueError:
        fail("decompress", f"unsupported method {method!r}, supported: {_METHODS}")
    except (zlib.error, OSError, EOFError) as exc:
        fail("decompress", f"input is not valid {method} data: {exc}")


@scalar(
    "trunc",
    2,
    null_in_null_out=True,
    doc="trunc(x, d): x cut (not rounded) to d decimal places, d clamped to 0..34",
)
def trunc(value: Any, places: Any) -> int | float | None:
    if value is None or places is None:
        return None
    t = type(value)
    if t is not int and t is not float:
        bad_arg("trunc", 0, "a number", value)
    d = min(max(to_int("trunc", 1, places), 0), 34)
    if t is int:
        return value
    if value != value or value in (float("inf"), float("-inf")):
        return value
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-d), rounding=ROUND_DOWN))


@scalar("chr", 1, null_in_null_out=True, doc="chr(n): the character with code n")
def chr_(value: Any) -> str | None:
    if value is None:
        return None
    t = type(value)
    if t is str:
        if len(value) != 1:
            fail("chr", f"a string argument must be one character, got {value!r}")
        return value
    code = int(value) if t is float else to_int("chr", 0, value)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        fail("chr", f"{code} is not a valid character code")


@scalar("hex2dec", 1, null_in_null_out=True, doc='hex2dec("0x10") is 16; the 0x prefix is optional')
def hex2dec(value: Any) -> int | None:
    if value is None:
        return None
    text = to_str("hex2dec", 0, value).strip()
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        return int(digits, 16)
    except ValueError:
        fail("hex2dec", f"{text!r} is not a hexadecimal number")


@scalar("dec2hex", 1, null_in_null_out=True, doc='dec2hex(16) is "0x10"')
def dec2hex(value: Any) -> str | None:
    if value is None:
        return None
    n = to_int("dec2hex", 0, value)
    return f"-0x{-n:x}" if n < 0 else f"0x{n:x}"
