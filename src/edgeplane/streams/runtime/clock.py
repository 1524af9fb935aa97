"""Where a rule's time comes from: the wall clock live, a manual clock in tests and replays."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int: ...  # milliseconds since the epoch


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """Time moves only when told to, so replays and tests are exact."""

    def __init__(self, start: int = 0) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def set(self, t: int) -> None:
        if t < self._now:
            raise ValueError(f"time cannot go backwards: {t} < {self._now}")
        self._now = t
