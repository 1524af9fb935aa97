"""A tiny protobuf writer for tests: builds the bytes kubectl would send, field by field."""

from __future__ import annotations

import struct


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negatives become ten-byte two's complement, as Go writes int32/int64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def int_field(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def bool_field(number: int, value: bool) -> bytes:
    return int_field(number, int(value))


def bytes_field(number: int, value: bytes) -> bytes:
    return tag(number, 2) + varint(len(value)) + value


def str_field(number: int, value: str) -> bytes:
    return bytes_field(number, value.encode())


def msg_field(number: int, *parts: bytes) -> bytes:
    return bytes_field(number, b"".join(parts))


def fixed64_field(number: int, value: float) -> bytes:
    return tag(number, 1) + struct.pack("<d", value)


def fixed32_field(number: int, value: float) -> bytes:
    return tag(number, 5) + struct.pack("<f", value)


def packed_field(number: int, values: list[int]) -> bytes:
    return bytes_field(number, b"".join(varint(v) for v in values))


def map_entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map<string, ...> entry; a bytes value is written as is (a message or a bytes field)."""
    encoded = value.encode() if isinstance(value, str) else value
    return msg_field(number, str_field(1, key), bytes_field(2, encoded))


def envelope(api_version: str, kind: str, raw: bytes, content_encoding: str = "") -> bytes:
    """``k8s\\x00`` + runtime.Unknown, as client-go's protobuf serializer writes it."""
    unknown = msg_field(1, str_field(1, api_version), str_field(2, kind)) + bytes_field(2, raw)
    if content_encoding:
        unknown += str_field(3, content_encoding)
    return b"k8s\x00" + unknown + str_field(4, "")


def go_time(seconds: int, nanos: int = 0) -> bytes:
    """meta/v1 Time or MicroTime body."""
    return int_field(1, seconds) + (int_field(2, nanos) if nanos else b"")


ZERO_TIME = b""  # Go marshals the zero time.Time to no bytes


def int_or_string(value: int | str) -> bytes:
    if isinstance(value, int):
        return int_field(1, 0) + int_field(2, value)
    return int_field(1, 1) + str_field(3, value)


def object_meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> bytes:
    """ObjectMeta the way gogo writes a fresh object: plain string fields always present, even empty."""
    out = str_field(1, name) + str_field(2, "") + str_field(3, namespace) + str_field(4, "") + str_field(5, "")
    out += str_field(6, "") + int_field(7, 0) + msg_field(8, ZERO_TIME)
    for key, value in (labels or {}).items():
        out += map_entry(11, key, value)
    return out
