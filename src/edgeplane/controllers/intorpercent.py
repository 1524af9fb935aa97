"""IntOrString values such as maxSurge "25%" or maxUnavailable 1, scaled as Kubernetes does."""

from __future__ import annotations

import math
import re

_PERCENT = re.compile(r"(\d+)%")


def scaled_value(value: int | str | None, total: int, round_up: bool, field: str = "value") -> int:
    """An int is taken as is; "N%" is N percent of ``total``, rounded up or down. Bad input raises ValueError
    naming ``field``."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is neither an integer nor a percentage")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        match = _PERCENT.fullmatch(value)
        if match:
            scaled = int(match[1]) * total / 100
            return math.ceil(scaled) if round_up else math.floor(scaled)
    raise ValueError(f"{field}: {value!r} is neither an integer nor a percentage such as \"25%\"")


def surge_and_unavailable(max_surge: int | str | None, max_unavailable: int | str | None,
                          replicas: int) -> tuple[int, int]:
    """Kubernetes' resolveFenceposts: surge rounds up, unavailability rounds down, and both being zero would
    stall a rollout, so unavailability becomes 1."""
    surge = scaled_value(max_surge, replicas, True, "maxSurge")
    unavailable = scaled_value(max_unavailable, replicas, False, "maxUnavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
