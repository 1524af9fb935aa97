"""Turns closed windows into emissions: join if the rule joins, then the compiled query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeplane.streams.compiler.query import CompiledQuery
from edgeplane.streams.joins.plan import JoinPlan
from edgeplane.streams.runtime.context import RuleContext


class QueryPaneSink:
    """Without a join, panes of incremental aggregates hold accumulators only, not rows."""

    def __init__(self, query: CompiledQuery, join: JoinPlan | None, ctx: RuleContext,
                 emit: Callable[[list[dict[str, Any]]], None]) -> None:
        self.query = query
        self.join = join
        self.ctx = ctx
        self.emit = emit
        self.incremental = query.incremental and join is None
        assert query.add is not None and query.finish is not None
        self._add = query.add
        self._finish = query.finish
        self._new_state = query.new_state

    def new(self) -> Any:
        return self._new_state() if self.incremental else []

    def add(self, pane: Any, rows: list[Any]) -> None:
        if self.incremental:
            self._add(pane, rows)
        else:
            pane.extend(rows)

    def close(self, pane: Any, start: int | None, end: int | None) -> None:
        if self.incremental:
            self._finish_state(pane, start, end)
        else:
            self.close_rows(pane, start, end)

    def close_rows(self, rows: list[Any], start: int | None, end: int | None) -> None:
        if self.join is not None:
            rows = self.join.join(rows)
        state = self._new_state()
        self._add(state, rows)
        self._finish_state(state, start, end)

    def _finish_state(self, state: Any, start: int | None, end: int | None) -> None:
        self.ctx.wstart, self.ctx.wend = start, end
        out = self._finish(state)
        if out:
            self.emit(out)
