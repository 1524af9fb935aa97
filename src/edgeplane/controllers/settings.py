"""Tuning knobs of the controllers, set from `edgeplane cloud` flags, and the Go duration syntax they take.

Durations are written as Kubernetes components take them ("40s", "5m", "1h30m", "300ms"); a bare number
means seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]*\.?[0-9]+|[0-9]+\.)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in a Go duration ("1h30m" -> 5400.0, "250ms" -> 0.25); a bare number is seconds."""
    raw = text.strip()
    if not raw:
        raise DurationError("invalid duration \"\": empty")
    try:
        return float(raw)
    except ValueError:
        pass
    sign, body = (-1.0, raw[1:]) if raw[0] == "-" else (1.0, raw.lstrip("+"))
    total, pos = 0.0, 0
    while pos < len(body):
        part = _PART.match(body, pos)
        if part is None:
            raise DurationError(
                f"invalid duration {text!r}: expected a number and a unit (ns, us, ms, s, m, h) at offset {pos}"
            )
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    if pos == 0:
        raise DurationError(f"invalid duration {text!r}")
    return sign * total


@dataclass(frozen=True)
class ControllerSettings:
    # How long a node may go without renewing its Lease (or posting status) before it counts as unreachable.
    node_monitor_grace_period: float = 40.0
    # How long the scheduler waits before retrying a pod no node fits, when nothing it watches has changed.
    unschedulable_retry_period: float = 60.0
