"""Where time-reading functions (tstamp, now, cur_date, ...) get the current time.

The rule runtime installs its clock with ``set_clock`` so that a replay or a test that drives time sees
the same "now" in ``tstamp()`` as in its windows. Without one, the wall clock is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


_now_ms: Callable[[], int] = _wall_ms


def now_ms() -> int:
    """Milliseconds since the epoch, from the installed clock."""
    return _now_ms()


def set_clock(source: Callable[[], int] | None) -> None:
    """Install a clock returning epoch milliseconds; ``None`` goes back to the wall clock."""
    global _now_ms
    _now_ms = source if source is not None else _wall_ms
