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

    def close_rows(self, rows: list[Any], start: int | None, end: int | None, emit_empty: bool = True) -> None:
        """A window's rows (``emit_empty``: a window that closes without rows still sends [] or its
        aggregates over nothing, as eKuiper's windows do; a single message's join or aggregate does not)."""
        if not rows and not emit_empty:
            return
        if self.join is not None:
            rows = self.join.join(rows)
            if not rows:
                return  # eKuiper's join passes nothing on when nothing matched
        state = self._new_state()
        self._add(state, rows)
        self._finish_state(state, start, end, emit_empty)

    def _finish_state(self, state: Any, start: int | None, end: int | None, emit_empty: bool = True) -> None:
        self.ctx.wstart, self.ctx.wend = start, end
        self.ctx.in_group = self.query.aggregate
        try:
            out = self._finish(state)
        finally:
            self.ctx.in_group = False
        # None: HAVING held the window back; an aggregate whose groups HAVING filtered out sends nothing.
        if out is None:
            return
        if out or (emit_empty and not self.query.aggregate):
            self.emit(out)
