import gzip
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from edgeplane.streams.functions import FunctionError

T0 = 1541152486013  # 2018-11-02T09:54:46.013Z
DT0 = datetime(2018, 11, 2, 9, 54, 46, 13000, tzinfo=UTC)

CASES = [
    ("cast", ("12", "bigint"), 12),
    ("cast", (3.9, "bigint"), 3),
    ("cast", (True, "bigint"), 1),
    ("cast", ("3.5", "float"), 3.5),
    ("cast", (2, "float"), 2.0),
    ("cast", (False, "float"), 0.0),
    ("cast", (1.0, "string"), "1"),
    ("cast", (0.000001, "string"), "0.000001"),
    ("cast", (42, "string"), "42"),
    ("cast", (True, "string"), "true"),
    ("cast", ({"b": 1, "a": [1.5]}, "string"), '{"a":[1.5],"b":1}'),
    ("cast", ("true", "boolean"), True),
    ("cast", ("F", "boolean"), False),
    ("cast", (0, "boolean"), False),
    ("cast", (0.1, "boolean"), True),
    ("cast", ("aGVsbG8=", "bytea"), b"hello"),
    ("cast", (T0, "datetime"), DT0),
    ("cast", (float(T0), "datetime"), DT0),
    ("cast", ("2018-11-02T09:54:46.013Z", "datetime"), DT0),
    ("cast", ("2018-11-02T17:54:46.013+08:00", "datetime"), DT0),
    ("cast", ("2018-11-02 09:54:46", "datetime"), DT0.replace(microsecond=0)),
    ("cast", ("2018-11-02", "datetime"), datetime(2018, 11, 2, tzinfo=UTC)),
    ("cast", (DT0, "datetime"), DT0),
    ("cast", (None, "bigint"), None),
    ("convert_tz", (T0, "Asia/Shanghai"), DT0),
    ("to_seconds", (T0,), 1541152486),
    ("to_seconds", ("1970-01-01T00:01:00Z",), 60),
    ("encode", ("hello", "base64"), "aGVsbG8="),
    ("encode", (b"\x00\xff", "base64"), "AP8="),
    ("decode", ("aGVsbG8=", "base64"), b"hello"),
    ("decode", (None, "base64"), None),
    ("trunc", (3.14159, 2), 3.14),
    ("trunc", (-3.999, 1), -3.9),
    ("trunc", (2.5, -1), 2.0),
    ("trunc", (7, 2), 7),
    ("chr", (65,), "A"),
    ("chr", (97.0,), "a"),
    ("chr", ("Z",), "Z"),
    ("hex2dec", ("0x10",), 16),
    ("hex2dec", ("ff",), 255),
    ("dec2hex", (16,), "0x10"),
    ("dec2hex", (255,), "0xff"),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected)


def test_convert_tz_changes_the_zone_not_the_instant(call):
    result = call("convert_tz", T0, "Asia/Shanghai")
    assert result.utcoffset() == timedelta(hours=8)
    assert (result.hour, result.minute) == (17, 54)


def test_cast_datetime_keeps_the_offset_of_the_instant(call):
    result = call("cast", "2018-11-02T17:54:46+08:00", "datetime")
    assert result == datetime(2018, 11, 2, 17, 54, 46, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize("method", ["zlib", "gzip", "flate"])
def test_compress_round_trips(call, method):
    packed = call("compress", "edge data " * 20, method)
    assert isinstance(packed, bytes)
    assert len(packed) < 200
    assert call("decompress", packed, method) == ("edge data " * 20).encode()


def test_compressed_formats_are_the_standard_ones(call):
    assert gzip.decompress(call("compress", "abc", "gzip")) == b"abc"
    assert zlib.decompress(call("compress", b"abc", "zlib")) == b"abc"


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("cast", ("abc", "bigint"), "cast: cannot convert string 'abc' to bigint"),
        ("cast", ("yes", "boolean"), "cast: cannot convert string 'yes' to boolean"),
        ("cast", ([1], "float"), "cast: cannot convert array [1] to float"),
        ("cast", ("not base64!", "bytea"), "cast: cannot convert string 'not base64!' to bytea"),
        ("cast", ("tomorrow", "datetime"), "cast: cannot parse 'tomorrow' as a datetime"),
        ("cast", (True, "datetime"), "cast: cannot convert boolean True to datetime"),
        ("cast", (1, "int"), "cast: unknown type 'int', expected one of: bigint, float, string"),
        ("convert_tz", (T0, "Mars/Olympus"), "convert_tz: unknown time zone 'Mars/Olympus'"),
        ("encode", ("a", "hex"), "encode: unsupported encoding 'hex', only base64 is supported"),
        ("encode", (12, "base64"), "encode: first argument must be a string or bytea, got bigint 12"),
        ("decode", ("%%%", "base64"), "decode: invalid base64 input"),
        ("compress", ("a", "lz4"), "compress: unsupported method 'lz4'"),
        ("decompress", (b"not zlib", "zlib"), "decompress: input is not valid zlib data"),
        ("chr", ("AB",), "chr: a string argument must be one character"),
        ("hex2dec", ("0xZZ",), "hex2dec: '0xZZ' is not a hexadecimal number"),
        ("dec2hex", ("16",), "dec2hex: first argument must be an integer"),
        ("trunc", ("1.5", 1), "trunc: first argument must be a number"),
    ],
)
def test_bad_values(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)
