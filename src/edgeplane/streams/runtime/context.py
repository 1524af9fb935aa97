"""The state functions declared with ``needs_context`` read: current message, window, rule id."""

from __future__ import annotations

from typing import Any


class RuleContext:
    """One per rule; the generated code updates ``message`` and ``row_index`` as it goes."""

    __slots__ = ("message", "message_meta", "now", "row_index", "rule_id", "timestamp_field", "wend", "wstart")

    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        self.message: dict[str, Any] | None = None
        self.message_meta: dict[str, Any] = {}
        self.now = 0
        self.row_index = 1
        self.wstart: int | None = None
        self.wend: int | None = None
        self.timestamp_field: str | None = None  # event time: the stream's TIMESTAMP column

    def meta(self, key: str) -> Any:
        if key == "*":
            return dict(self.message_meta)
        return self.message_meta.get(key)

    def event_time(self) -> int:
        if self.timestamp_field and self.message:
            value = self.message.get(self.timestamp_field)
            if isinstance(value, int):
                return value
        return self.now

    def window_start(self) -> int | None:
        return self.wstart

    def window_end(self) -> int | None:
        return self.wend
