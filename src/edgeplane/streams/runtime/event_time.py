"""Event time: the watermark trails the largest event time seen by the late tolerance; events older
than the watermark are late, dropped and counted."""

from __future__ import annotations


class Watermark:
    def __init__(self, late_tolerance: int) -> None:
        self.late_tolerance = late_tolerance
        self.value: int | None = None
        self.late = 0

    def admit(self, ts: int) -> bool:
        """False for a late event (and count it)."""
        if self.value is not None and ts < self.value:
            self.late += 1
            return False
        return True

    def observe(self, ts: int) -> bool:
        """Move the watermark for an admitted event; True when it advanced."""
        candidate = ts - self.late_tolerance
        if self.value is None or candidate > self.value:
            self.value = candidate
            return True
        return False
