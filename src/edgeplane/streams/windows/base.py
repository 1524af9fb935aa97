"""What window operators share: time units and the sink that turns a closed window into output."""

from __future__ import annotations

from typing import Any, Protocol

UNIT_MS = {"DD": 86_400_000, "HH": 3_600_000, "MI": 60_000, "SS": 1_000, "MS": 1}


def unit_ms(unit: str | None, length: int) -> int:
    return UNIT_MS[unit or "MS"] * length


def next_boundary(t: int, step: int) -> int:
    """The first multiple of ``step`` after ``t``: windows align to the epoch (UTC), not the rule start."""
    return (t // step + 1) * step


class PaneSink(Protocol):
    """Receives a window's rows. ``new``/``add`` fold rows as they arrive (flat memory for incremental
    aggregates); ``close`` finishes such a pane; ``close_rows`` finishes a window given as a row list."""

    def new(self) -> Any: ...
    def add(self, pane: Any, rows: list[Any]) -> None: ...
    def close(self, pane: Any, start: int | None, end: int | None) -> None: ...
    def close_rows(self, rows: list[Any], start: int | None, end: int | None) -> None: ...


class Window(Protocol):
    def start(self, now: int) -> None: ...
    def insert(self, ts: int, rows: list[Any]) -> None: ...
    def advance(self, now: int) -> None: ...
