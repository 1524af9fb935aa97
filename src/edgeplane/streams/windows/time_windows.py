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
    """A window per triggering event at ``T``: the rows in (T - length, T], or with a delay the rows in
    (T - length, T + delay), sent at T + delay. With OVER (WHEN cond) only rows meeting cond trigger.

    In event time, as eKuiper does, a trigger fires at the watermark that released it (so rows sharing
    its time are in), and a delayed one at the first later watermark at or past T + delay."""

    def __init__(self, length: int, delay: int, sink: PaneSink, trigger: Callable[[Any], bool] | None,
                 on_trigger: Callable[[int], None] | None = None, event_time: bool = False) -> None:
        self.length, self.delay, self.sink, self.trigger = length, delay, sink, trigger
        self.on_trigger = on_trigger
        self.event_time = event_time
        self.rows: deque[tuple[int, Any]] = deque()
        self.triggered: deque[int] = deque()  # event time: trigger times waiting for the watermark
        self.pending: deque[int] = deque()  # delayed windows: the times they are due

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        for row in rows:
            self.rows.append((ts, row))
            if self.trigger is not None and not self.trigger(row):
                continue
            if self.on_trigger is not None:
                self.on_trigger(ts)
            if self.event_time:
                self.triggered.append(ts)
            elif self.delay:
                self.pending.append(ts + self.delay)
            else:
                self._fire(ts)

    def advance(self, now: int) -> None:
        while self.pending and self.pending[0] <= now:
            self._fire(self.pending.popleft() - self.delay)
        while self.triggered and self.triggered[0] <= now:
            at = self.triggered.popleft()
            if self.delay:
                self.pending.append(at + self.delay)
            else:
                self._fire(at)
        oldest = self.pending[0] - self.delay if self.pending else now
        if self.triggered:
            oldest = min(oldest, self.triggered[0])
        horizon = oldest - self.length
        while self.rows and self.rows[0][0] <= horizon:
            self.rows.popleft()

    def _fire(self, at: int) -> None:
        start, end = at - self.length, at + self.delay
        if self.delay:
            window = [row for ts, row in self.rows if start < ts < end]
        else:
            window = [row for ts, row in self.rows if start < ts <= end]
        self.sink.close_rows(window, start, end)


class SessionWindow:
    """Rows that arrive within ``timeout`` ms of each other. A session also closes at the first
    multiple of ``max_duration`` (checkpoints aligned to the epoch) by which it has lasted longer than
    ``max_duration``; the session that goes on then starts at that checkpoint.

    In event time (rows in order, ``advance`` by the watermark) a row past the timeout or the
    checkpoint closes the session before it joins the next one; with no later row, a session closes
    once the watermark is past its timeout."""

    def __init__(self, max_duration: int, timeout: int, sink: PaneSink, event_time: bool = False) -> None:
        self.max_duration, self.timeout, self.sink = max_duration, timeout, sink
        self.event_time = event_time
        self.pane: Any = None
        self.first = self.last = 0
        self.continues_from: int | None = None  # checkpoint a session was cut at

    def start(self, now: int) -> None:
        pass

    def insert(self, ts: int, rows: list[Any]) -> None:
        if self.pane is not None and ts > self._close_at():
            self._close()
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
        if self.event_time:
            if now > self.last + self.timeout:
                self._close()
        elif self._close_at() <= now:
            self._close()

    def _checkpoint(self) -> int:
        return next_boundary(self.first + self.max_duration, self.max_duration)

    def _close_at(self) -> int:
        return min(self.last + self.timeout, self._checkpoint())

    def _close(self) -> None:
        timeout_at, checkpoint = self.last + self.timeout, self._checkpoint()
        pane, self.pane = self.pane, None
        self.continues_from = checkpoint if checkpoint < timeout_at else None
        self.sink.close(pane, self.first, min(timeout_at, checkpoint))
