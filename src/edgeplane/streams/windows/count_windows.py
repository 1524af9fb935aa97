"""Windows over event counts and over state conditions; they ignore time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from edgeplane.streams.windows.base import PaneSink


class CountWindow:
    """COUNTWINDOW(size): every ``size`` events. COUNTWINDOW(size, hop): every ``hop`` events once
    ``size`` have arrived, the latest ``size`` events."""

    def __init__(self, size: int, hop: int | None, sink: PaneSink) -> None:
        self.size, self.hop, self.sink = size, hop, sink
        self.count = 0
        self.pane: Any = None
        self.recent: deque[tuple[int, Any]] = deque(maxlen=size)
        self.first_ts = 0

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        for row in rows:
            self.count += 1
            if self.hop is None:
                if self.pane is None:
                    self.pane, self.first_ts = self.sink.new(), ts
                self.sink.add(self.pane, [row])
                if self.count == self.size:
                    pane, self.pane, self.count = self.pane, None, 0
                    self.sink.close(pane, self.first_ts, ts)
            else:
                self.recent.append((ts, row))
                if self.count >= self.size and self.count % self.hop == 0:
                    self.sink.close_rows([r for _, r in self.recent], self.recent[0][0], ts)

    def advance(self, now: int) -> None:
        pass


class StateWindow:
    """Opens on a row meeting ``begin`` and emits, that row included, on a row meeting ``emit``."""

    def __init__(self, begin: Callable[[Any], bool], emit: Callable[[Any], bool], sink: PaneSink) -> None:
        self.begin, self.emit, self.sink = begin, emit, sink
        self.pane: Any = None
        self.first_ts = 0

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        for row in rows:
            if self.pane is None:
                if not self.begin(row):
                    continue
                self.pane, self.first_ts = self.sink.new(), ts
            self.sink.add(self.pane, [row])
            if self.emit(row):
                pane, self.pane = self.pane, None
                self.sink.close(pane, self.first_ts, ts)

    def advance(self, now: int) -> None:
        pass
