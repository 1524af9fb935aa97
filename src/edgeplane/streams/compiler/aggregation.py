"""Aggregate and analytic call sites: the per-group and per-partition state the generated code drives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ColumnsAccumulator:
    """For aggregates without an incremental accumulator: keeps each argument's values for ``impl``."""

    __slots__ = ("columns", "impl")

    def __init__(self, impl: Callable[..., Any], nargs: int) -> None:
        self.impl = impl
        self.columns: list[list[Any]] = [[] for _ in range(nargs)]

    def add(self, *args: Any) -> None:
        for column, value in zip(self.columns, args, strict=True):
            column.append(value)

    def result(self) -> Any:
        return self.impl(*self.columns)


def columns_factory(impl: Callable[..., Any], nargs: int) -> Callable[[], ColumnsAccumulator]:
    return lambda: ColumnsAccumulator(impl, nargs)


class AnalyticSite:
    """One analytic call in a rule: an instance per partition, evaluated before WHERE on every message.

    When the OVER (WHEN ...) condition does not hold, the event leaves the state alone: the instance's
    ``skip`` gives the value shown then (the saved state), or else the last result is reused.
    """

    __slots__ = ("factory", "last", "parts")

    def __init__(self, factory: type) -> None:
        self.factory = factory
        self.parts: dict[Any, Any] = {}
        self.last: dict[Any, Any] = {}

    def call(self, key: Any, valid: bool, *args: Any) -> Any:
        inst = self.parts.get(key)
        if inst is None:
            inst = self.parts[key] = self.factory()
        if not valid:
            skip = getattr(inst, "skip", None)
            return skip(*args) if skip is not None else self.last.get(key)
        value = self.last[key] = inst(*args)
        return value
