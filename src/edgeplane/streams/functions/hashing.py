"""Hashing functions (eKuiper: docs/en_US/sqls/functions/hashing_functions.md).

The argument is hashed as its text (eKuiper's %v rendering, so ``md5(1)`` hashes ``"1"``); bytea values
are hashed as they are. Digests are lowercase hex strings. ``mh3`` is eKuiper's 32-bit MurmurHash3;
``crc32`` is the IEEE CRC-32 in hex.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Any

from edgeplane.streams.functions._values import to_string_always
from edgeplane.streams.functions.registry import scalar


def _data(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    return to_string_always(value).encode("utf-8")


def _digest(name: str, constructor: Callable[..., Any]) -> None:
    def impl(value: Any) -> str | None:
        if value is None:
            return None
        return constructor(_data(value)).hexdigest()

    impl.__name__ = name
    scalar(name, 1, null_in_null_out=True, doc=f"{name} of the argument as a hex string")(impl)


for _name in ("md5", "sha1", "sha256", "sha384", "sha512"):
    _digest(_name, getattr(hashlib, _name))


_M = 0xFFFFFFFF


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit, as Go's spaolacci/murmur3 Sum32 computes it."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _M
    tail_start = len(data) - len(data) % 4
    for i in range(0, tail_start, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & _M
        k = ((k << 15) | (k >> 17)) & _M
        k = (k * c2) & _M
        h ^= k
        h = ((h << 13) | (h >> 19)) & _M
        h = (h * 5 + 0xE6546B64) & _M
    k = 0
    tail = data[tail_start:]
    if len(tail) == 3:
        k ^= tail[2] << 16
    if len(tail) >= 2:
        k ^= tail[1] << 8
    if tail:
        k ^= tail[0]
        k = (k * c1) & _M
        k = ((k << 15) | (k >> 17)) & _M
        k = (k * c2) & _M
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M
    h ^= h >> 16
    return h


@scalar("mh3", 1, null_in_null_out=True, doc="32-bit MurmurHash3 of the argument, as a bigint")
def mh3(value: Any) -> int | None:
    return None if value is None else murmur3_32(_data(value))


@scalar("crc32", 1, null_in_null_out=True, doc="IEEE CRC-32 of the argument as a hex string")
def crc32(value: Any) -> str | None:
    return None if value is None else f"{zlib.crc32(_data(value)):x}"
