"""Checks shared by several kinds: ports, label selectors, int-or-percent values, enums."""

from __future__ import annotations

import re
from typing import Any

from edgeplane.api import errors, names
from edgeplane.api.errors import Cause
from edgeplane.api.metadata import validate_labels
from edgeplane.api.selectors import LabelSelector, SelectorError

PROTOCOLS = ["SCTP", "TCP", "UDP"]
SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"]
_percent = re.compile(r"^[0-9]+%$").match


def one_of(path: str, value: Any, allowed: list[str]) -> list[Cause]:
    if value is None or value in allowed:
        return []
    return [errors.not_supported(path, value, allowed)]


def port_number(path: str, value: Any, *, allow_zero: bool = False) -> list[Cause]:
    if allow_zero and value == 0:
        return []
    if isinstance(value, int) and 1 <= value <= 65535:
        return []
    return [errors.invalid(path, value, "must be between 1 and 65535, inclusive")]


def port_name_or_number(path: str, value: Any) -> list[Cause]:
    if isinstance(value, str):
        return [errors.invalid(path, value, m) for m in names.port_name(value)]
    return port_number(path, value)


def at_least(path: str, value: Any, low: int) -> list[Cause]:
    if value is None or value >= low:
        return []
    if low == 0:
        return [errors.invalid(path, value, "must be greater than or equal to 0")]
    return [errors.invalid(path, value, f"must be greater than or equal to {low}")]


def positive(path: str, value: Any) -> list[Cause]:
    if value is None or value > 0:
        return []
    return [errors.invalid(path, value, "must be greater than 0")]


def int_or_percent(path: str, value: Any) -> list[Cause]:
    """maxSurge / maxUnavailable: a non-negative integer or a percentage of at most 100%."""
    if isinstance(value, int):
        return at_least(path, value, 0)
    if not isinstance(value, str) or not _percent(value):
        return [errors.invalid(path, value, "a valid percent string must be a numeric string followed by an "
                                           "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                                           "'[0-9]+%')")]
    if int(value[:-1]) > 100:
        return [errors.invalid(path, value, "must not be greater than 100%")]
    return []


def is_zero(value: Any) -> bool:
    return value in (0, "0%")


def label_selector(selector: dict[str, Any], path: str) -> list[Cause]:
    causes = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for index, req in enumerate(selector.get("matchExpressions") or ()):
        here = f"{path}.matchExpressions[{index}]"
        operator = req.get("operator")
        values = req.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(errors.required(f"{here}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(errors.forbidden(f"{here}.values",
                                               "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(errors.not_supported(f"{here}.operator", operator, SELECTOR_OPERATORS))
        causes += [errors.invalid(f"{here}.key", req.get("key"), m) for m in names.qualified_name(req.get("key", ""))]
    return causes


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector selects a set of labels; a malformed selector (reported elsewhere) does not."""
    try:
        return LabelSelector.from_dict(selector).matches(labels)
    except SelectorError:
        return False
