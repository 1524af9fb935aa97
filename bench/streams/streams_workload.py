"""The benchmark's messages: pre-decoded dicts from 1,000 device ids, ten per millisecond.

A pool of distinct messages is built once and cycled, so 10 million messages cost no more memory
than the pool; what varies per message is its arrival time, derived from its index.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

DEVICES = 1_000
POOL = 100_000
PER_MS = 10  # 10 messages per millisecond: 10 M messages span 1,000 s, i.e. 100 ten-second windows
START = 1_700_000_000_000  # a multiple of 10 s, so windows line up with the data


def build_pool(seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {"deviceId": f"device-{i % DEVICES:04d}", "temperature": round(rnd.uniform(0, 100), 2),
         "humidity": rnd.randint(0, 100), "ts": START + i // PER_MS}
        for i in range(POOL)
    ]


def arrival(index: int) -> int:
    return START + index // PER_MS


def timed_messages(pool: list[dict[str, Any]], count: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(arrival ms, message) pairs, for the peers."""
    size = len(pool)
    for i in range(count):
        yield START + i // PER_MS, pool[i % size]


class RecordedLines(Sequence):
    """The ``run_recorded`` input lines for messages [offset, offset + count), built on access."""

    def __init__(self, pool: list[dict[str, Any]], offset: int, count: int, stream: str = "demo") -> None:
        self.pool, self.offset, self.count, self.stream = pool, offset, count, stream

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        if isinstance(i, slice):
            raise TypeError("RecordedLines does not slice")
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        n = self.offset + i
        return {"stream": self.stream, "timestamp": START + n // PER_MS, "data": self.pool[n % len(self.pool)]}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pool, size, stream = self.pool, len(self.pool), self.stream
        for n in range(self.offset, self.offset + self.count):
            yield {"stream": stream, "timestamp": START + n // PER_MS, "data": pool[n % size]}
