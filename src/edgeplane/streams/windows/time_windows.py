"""Windows over time: tumbling, hopping, sliding and session."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from edgeplane.streams.windows.base import PaneSink, next_boundary


class TumblingWindow:
    """Back-to-back windows of ``length`` ms aligned to the epoch; each fires when its end passes,
    empty or not (processing time), so a rule sees every interval."""

    def __init__(self, length: int, sink: PaneSink) -> None:
        self.length = length
        self.sink = sink
        self.panes: dict[int, Any] = {}  # window end -> pane
        self.next_end: int | None = None

    def start(self, now: int) -> None:
        self.next_end = next_boundary(now, self.length)

    def insert(self, ts: int, rows: list[Any]) -> None:
        end = next_boundary(ts, self.length)
        pane = self.panes.get(end)
        if pane is None:
            pane = self.panes[end] = self.sink.new()
        self.sink.add(pane, rows)
        if self.next_end is None or end < self.next_end:
            self.next_end = end

    def advance(self, now: int) -> None:
        while self.next_end is not None and self.next_end <= now:
            end = self.next_end
            pane = self.panes.pop(end, None)
            self.sink.close(pane if pane is not None else self.sink.new(), end - self.length, end)
            self.next_end = end + self.length


class HoppingWindow:
    """Windows of ``length`` ms starting every ``hop`` ms; a row belongs to every window it falls in."""

    def __init__(self, length: int, hop: int, sink: PaneSink) -> None:
        self.length, self.hop, self.sink = length, hop, sink
        self.rows: deque[tuple[int, list[Any]]] = deque()
        self.next_end: int | None = None

    def start(self, now: int) -> None:
        self.next_end = next_boundary(now, self.hop)

    def insert(self, ts: int, rows: list[Any]) -> None:
        self.rows.append((ts, rows))
        if self.next_end is None:
            self.next_end = next_boundary(ts, self.hop)

    def advance(self, now: int) -> None:
        while self.next_end is not None and self.next_end <= now:
            end = self.next_end
            start = end - self.length
            window = [r for ts, rows in self.rows if start <= ts < end for r in rows]
            self.sink.close_rows(window, start, end)
            self.next_end = end + self.hop
            keep_from = self.next_end - self.length
            while self.rows and self.rows[0][0] < keep_from:
                self.rows.popleft()


class SlidingWindow:
    """A window per triggering event: the rows of the ``length`` ms up to the event, plus the ``delay``
    ms after it when delayed. With OVER (WHEN cond) only events meeting cond trigger."""

    def __init__(self, length: int, delay: int, sink: PaneSink,
                 trigger: Callable[[Any], bool] | None) -> None:
        self.length, self.delay, self.sink, self.trigger = length, delay, sink, trigger
        self.rows: deque[tuple[int, Any]] = deque()
        self.pending: deque[int] = deque()  # trigger times waiting for their delay

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        for row in rows:
            self.rows.append((ts, row))
            if self.trigger is None or self.trigger(row):
                if self.delay:
                    self.pending.append(ts)
                else:
                    self._fire(ts)

    def advance(self, now: int) -> None:
        while self.pending and self.pending[0] + self.delay <= now:
            self._fire(self.pending.popleft())
        horizon = (self.pending[0] if self.pending else now) - self.length
        while self.rows and self.rows[0][0] <= horizon:
            self.rows.popleft()

    def _fire(self, at: int) -> None:
        start, end = at - self.length, at + self.delay
        window = [row for ts, row in self.rows if start < ts <= end]
        self.sink.close_rows(window, start, end)


class SessionWindow:
    """Rows that arrive within ``timeout`` ms of each other. A session also closes at the first
    multiple of ``max_duration`` (checkpoints aligned to the epoch) by which it has lasted longer than
    ``max_duration``; the session that goes on then starts at that checkpoint."""

    def __init__(self, max_duration: int, timeout: int, sink: PaneSink) -> None:
        self.max_duration, self.timeout, self.sink = max_duration, timeout, sink
        self.pane: Any = None
        self.first = self.last = 0
        self.continues_from: int | None = None  # checkpoint a session was cut at

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        if self.pane is None:
            self.pane = self.sink.new()
            cut = self.continues_from
            self.first = cut if cut is not None and ts - cut < self.timeout else ts
            self.continues_from = None
        self.last = max(self.last, ts)
        self.sink.add(self.pane, rows)

    def advance(self, now: int) -> None:
        if self.pane is None:
            return
        timeout_at = self.last + self.timeout
        checkpoint = next_boundary(self.first + self.max_duration, self.max_duration)
        close_at = min(timeout_at, checkpoint)
        if close_at <= now:
            pane, self.pane = self.pane, None
            self.continues_from = checkpoint if checkpoint < timeout_at else None
            self.sink.close(pane, self.first, close_at)
