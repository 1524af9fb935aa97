"""Combines the rows of several sources into joined rows: dicts of source name to that source's row.

A source missing from a joined row (the unmatched side of an outer join) is an empty dict, so column
access needs no special case and ``SELECT *`` simply leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Joined = dict[str, Row]


@dataclass
class JoinStep:
    kind: str  # INNER LEFT RIGHT FULL CROSS
    ref: str
    on: Callable[[Joined], bool] | None


@dataclass
class JoinPlan:
    first: str
    steps: list[JoinStep]
    tables: dict[str, Callable[[], list[Row]]]  # table ref -> its current rows

    def join(self, tagged: list[tuple[str, Row]]) -> list[Joined]:
        """``tagged``: (source ref, row) pairs from the window, in arrival order."""
        by_ref: dict[str, list[Row]] = {}
        for ref, row in tagged:
            by_ref.setdefault(ref, []).append(row)
        for ref, rows in self.tables.items():
            by_ref[ref] = rows()
        current: list[Joined] = [{self.first: row} for row in by_ref.get(self.first, [])]
        seen = [self.first]
        for step in self.steps:
            right = by_ref.get(step.ref, [])
            current = _join_step(current, right, step, seen)
            seen.append(step.ref)
        return current


def _join_step(left: list[Joined], right: list[Row], step: JoinStep, seen: list[str]) -> list[Joined]:
    ref = step.ref
    if step.kind == "CROSS":
        return [{**row, ref: r} for row in left for r in right]
    out: list[Joined] = []
    matched: set[int] = set()
    on = step.on
    assert on is not None
    for row in left:
        hit = False
        for j, r in enumerate(right):
            candidate = {**row, ref: r}
            if on(candidate):
                out.append(candidate)
                hit = True
                matched.add(j)
        if not hit and step.kind in ("LEFT", "FULL"):
            out.append({**row, ref: {}})
    if step.kind in ("RIGHT", "FULL"):
        for j, r in enumerate(right):
            if j not in matched:
                out.append({**{name: {} for name in seen}, ref: r})
    return out
