"""Protocol buffers wire format: varints and (field number, wire type, value) records.

Only reading is needed: the API server receives protobuf and answers in JSON.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LENGTH = 2
FIXED32 = 5

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_INT64 = struct.Struct("<q")
_UINT64 = struct.Struct("<Q")
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")


class DecodeError(ValueError):
    """Bytes that do not decode; ``path`` names the field they were for (``spec.ports[0].targetPort``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path: list[str | int] = []

    def where(self) -> str:
        out = ""
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
        return out

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.detail}" if where else self.detail


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Returns (value, position after it). Values are unsigned; callers apply signedness."""
    # One-byte varints (tags, short lengths, small ints) are by far the most common.
    if pos < end:
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
    result = 0
    shift = 0
    start = pos
    while pos < end:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError(f"varint at byte {start} is longer than 10 bytes")
    raise DecodeError(f"varint at byte {start} is truncated")


def fields(buf: bytes, pos: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int | bytes]]:
    """Yields (field number, wire type, value) for each record of one message.

    Varints come back unsigned, fixed-width values as raw little-endian ints, length-delimited values as bytes.
    """
    if end is None:
        end = len(buf)
    while pos < end:
        tag_at = pos
        # Tags below field 16 and lengths below 128 are one byte; skipping the call for them halves the cost.
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise DecodeError(f"field number 0 at byte {tag_at}")
        if wire_type == LENGTH:
            size = buf[pos] if pos < end else 0x80
            if size < 0x80:
                pos += 1
            else:
                size, pos = read_varint(buf, pos, end)
            if pos + size > end:
                raise DecodeError(
                    f"field {number} at byte {tag_at} declares {size} bytes but only {end - pos} remain"
                )
            yield number, wire_type, buf[pos:pos + size]
            pos += size
        elif wire_type == VARINT:
            value, pos = read_varint(buf, pos, end)
            yield number, wire_type, value
        elif wire_type == FIXED64:
            if pos + 8 > end:
                raise DecodeError(f"field {number} at byte {tag_at} is a truncated 64-bit value")
            yield number, wire_type, _UINT64.unpack_from(buf, pos)[0]
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > end:
                raise DecodeError(f"field {number} at byte {tag_at} is a truncated 32-bit value")
            yield number, wire_type, _UINT32.unpack_from(buf, pos)[0]
            pos += 4
        else:
            raise DecodeError(f"field {number} at byte {tag_at} has unsupported wire type {wire_type}")


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def signed32(value: int) -> int:
    # int32 negatives are sign-extended to ten-byte varints; keep the low 32 bits' sign.
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def as_double(bits: int) -> float:
    return _DOUBLE.unpack(_UINT64.pack(bits))[0]


def as_float(bits: int) -> float:
    return _FLOAT.unpack(_UINT32.pack(bits))[0]


def as_sfixed64(bits: int) -> int:
    return _INT64.unpack(_UINT64.pack(bits))[0]


def as_sfixed32(bits: int) -> int:
    return _INT32.unpack(_UINT32.pack(bits))[0]


def packed_varints(data: bytes) -> list[int]:
    out: list[int] = []
    pos, end = 0, len(data)
    while pos < end:
        value, pos = read_varint(data, pos, end)
        out.append(value)
    return out


def packed_fixed(data: bytes, width: int) -> list[int]:
    if len(data) % width:
        raise DecodeError(f"packed field of {len(data)} bytes is not a multiple of {width}")
    fmt = f"<{len(data) // width}{'Q' if width == 8 else 'I'}"
    return list(struct.unpack(fmt, data))
