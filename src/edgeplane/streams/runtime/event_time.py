"""Event time, as eKuiper's watermark operator does it.

Each stream's watermark is the newest event time seen on it; the rule's watermark is the oldest of
those minus the late tolerance, so it moves only once every stream has sent something. Events wait in
a buffer sorted by event time and are released, oldest first, when the watermark reaches them (ties
keep their arrival order). An event older than the last watermark is late: dropped and counted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Any


class EventTimeBuffer:
    def __init__(self, late_tolerance: int, streams: Iterable[str]) -> None:
        self.late_tolerance = late_tolerance
        self.newest: dict[str, int | None] = dict.fromkeys(streams)
        self.value: int | None = None  # the last watermark
        self.late = 0
        self._times: list[int] = []  # sorted; _items[i] is the event at _times[i]
        self._items: list[Any] = []

    def push(self, stream: str, ts: int, item: Any) -> bool:
        """Buffer an event of ``stream``; False (and counted) when it is late."""
        newest = self.newest.get(stream)
        if newest is None or ts > newest:
            self.newest[stream] = ts
        if self.value is not None and ts < self.value:
            self.late += 1
            return False
        i = bisect_right(self._times, ts)
        self._times.insert(i, ts)
        self._items.insert(i, item)
        return True

    def advance(self) -> tuple[int, list[tuple[int, Any]]] | None:
        """The new watermark and the events it releases (oldest first), or None when it did not move."""
        newest = self.newest.values()
        if None in newest:
            return None
        mark = min(newest) - self.late_tolerance  # type: ignore[type-var]
        if self.value is not None and mark <= self.value:
            return None
        self.value = mark
        n = bisect_right(self._times, mark)
        released = list(zip(self._times[:n], self._items[:n], strict=True))
        del self._times[:n], self._items[:n]
        return mark, released

    def __len__(self) -> int:
        return len(self._times)
