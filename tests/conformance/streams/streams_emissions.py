"""Comparing emissions the way eKuiper's memory sink would see them.

Emissions are compared in order and rows in order (eKuiper defines row order: arrival order,
or ORDER BY). Numbers compare by value, so a JSON ``3`` equals ``3.0`` the way eKuiper's JSON
round trip makes them equal, with a tiny tolerance for floats; but a bool is never a number and
integer division (7/2 -> 3) still differs from 3.5. The first difference is reported with its path.
"""

from __future__ import annotations

import math
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-9


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def first_difference(expected: Any, actual: Any, path: str = "emissions") -> str | None:
    """Where ``actual`` departs from ``expected``, or None when they match."""
    if _is_number(expected) and _is_number(actual):
        if math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            return None
        return f"{path}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            return f"{path}: keys differ; missing {missing}, unexpected {extra} (got {actual!r})"
        for key in expected:
            diff = first_difference(expected[key], actual[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(expected, list) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}: {list(actual)!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diff = first_difference(e, a, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if type(expected) is not type(actual) or expected != actual:
        return f"{path}: expected {expected!r} ({type(expected).__name__}), got {actual!r} ({type(actual).__name__})"
    return None
