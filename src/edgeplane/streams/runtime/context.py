"""The state functions declared with ``needs_context`` read: current message, window, rule id."""

from __future__ import annotations

from typing import Any

from edgeplane.streams.compiler.helpers import HIDDEN_PREFIX

# The hidden column a window row carries its arrival (or event) time in, when event_time() needs it.
ARRIVAL_TIME_KEY = HIDDEN_PREFIX + "ts"


class RuleContext:
    """One per rule; the generated code updates ``message`` and ``row_index`` as it goes."""

    __slots__ = ("agg_hit_count", "agg_hit_time", "hit_count", "hit_time", "in_group", "message", "message_meta",
                 "now", "row_index", "rule_id", "timestamp_field", "wend", "wstart")

    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        self.message: dict[str, Any] | None = None
        self.message_meta: dict[str, Any] = {}
        self.now = 0
        self.row_index = 1
        self.wstart: int | None = None
        self.wend: int | None = None
        self.timestamp_field: str | None = None  # event time: the stream's TIMESTAMP column
        self.in_group = False  # projecting an aggregated group: its time is the window end
        # As in eKuiper, the last_hit functions read 0 before the first hit.
        self.hit_count = 0  # messages that passed WHERE (or sliding-window triggers) so far
        self.hit_time = 0  # the (event) time of the last one
        self.agg_hit_count = 0  # windows that emitted so far
        self.agg_hit_time = 0

    def meta(self, key: str) -> Any:
        if key == "*":
            return dict(self.message_meta)
        return self.message_meta.get(key)

    def event_time(self) -> int:
        if self.in_group and self.wend is not None:
            return self.wend
        m = self.message
        if m:
            value = m.get(ARRIVAL_TIME_KEY)
            if value is None and self.timestamp_field:
                value = m.get(self.timestamp_field)
            if isinstance(value, int):
                return value
        return self.now

    def window_start(self) -> int | None:
        return self.wstart

    def window_end(self) -> int | None:
        return self.wend
