"""Watch fan-out for the SQLite store: one dispatch per committed batch, a ring of recent events, and
bounded per-watcher queues.

Everything here runs on the event loop thread. The writer hands each committed batch to
``WatchHub.publish`` once; the hub filters it once per distinct watched prefix and appends that same
list (the same WatchEvent objects, never copies) to each matching watcher's queue, so serving 1,000
watchers of one prefix costs one filter plus 1,000 list appends. Consumers must treat the batches
they receive as read-only, as they are shared.

A watch starting in the past is served from the ring of recent events when it reaches back far
enough, without touching the database; older starts read the history table page by page first, while
live events queue behind them.

A slow consumer never slows the writer or the other watchers: once more than ``queue_limit`` events
wait in its queue, its queue is dropped and its next iteration raises WatchOverflowError, ending the
watch. That mirrors what Kubernetes does with a watcher that cannot keep up: it closes the watch and
the client re-watches from the last revision it saw (``WatchOverflowError.revision``) or re-lists.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from edgeplane.store.interface import CompactedError, FutureRevisionError, StoreError, Watch, WatchEvent

HistoryReader = Callable[[str, int, int, int], Awaitable[list[WatchEvent]]]


class WatchOverflowError(StoreError):
    """A watcher fell too far behind and its watch was ended. Resume by watching again after
    ``revision`` (the last revision it received), or re-list if that is compacted."""

    def __init__(self, prefix: str, revision: int, limit: int) -> None:
        super().__init__(
            f"watch of prefix {prefix!r} fell more than {limit} events behind and was closed; "
            f"watch again after revision {revision}"
        )
        self.prefix = prefix
        self.revision = revision
        self.limit = limit


class HubWatch(Watch):
    """One watcher. Iterating yields lists of events in revision order; do not modify them."""

    __slots__ = (
        "_after", "_catchup", "_closed", "_count", "_delivered", "_error", "_hub", "_pending",
        "_waiter", "prefix",
    )  # fmt: skip

    def __init__(self, hub: WatchHub, prefix: str, after: int, live_after: int) -> None:
        self._hub = hub
        self.prefix = prefix
        self._after = live_after  # live batches may carry events this watch already has; skip those
        self._delivered = after  # the last revision handed to the consumer
        self._pending: list[list[WatchEvent]] = []
        self._count = 0  # events waiting in _pending that count against the queue limit
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._catchup: tuple[int, int] | None = None  # (after, upto) still to read from history

    def __aiter__(self) -> HubWatch:
        return self

    async def __anext__(self) -> list[WatchEvent]:
        if self._catchup is not None:
            events = await self._catch_up()
            if events:
                return events
        while True:
            if self._pending:
                return self._take()
            if self._error is not None:
                error, self._error = self._error, None
                self._closed = True
                raise error
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        self._pending = []
        self._end()

    # -- used by the hub

    def _push(self, batch: list[WatchEvent]) -> bool:
        """Queue a batch; False when that overflowed the queue and ended the watch."""
        if batch[0].kv.mod_revision <= self._after:
            if batch[-1].kv.mod_revision <= self._after:
                return True
            batch = [event for event in batch if event.kv.mod_revision > self._after]
        self._pending.append(batch)
        self._count += len(batch)
        if self._count > self._hub.queue_limit:
            self._pending = []
            self._error = WatchOverflowError(self.prefix, self._delivered, self._hub.queue_limit)
            self._closed = True
            self._wake()
            return False
        self._wake()
        return True

    def _end(self) -> None:
        """No more events will come; the consumer still receives what is queued."""
        self._closed = True
        self._catchup = None
        self._hub.remove(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take(self) -> list[WatchEvent]:
        pending = self._pending
        batch = pending[0] if len(pending) == 1 else [event for part in pending for event in part]
        self._pending = []
        self._count = 0
        self._delivered = batch[-1].kv.mod_revision
        return batch

    async def _catch_up(self) -> list[WatchEvent]:
        after, upto = self._catchup  # type: ignore[misc]
        page = self._hub.history_page
        try:
            events = await self._hub.read_history(self.prefix, after, upto, page)
        except BaseException:
            self.close()
            raise
        if self._catchup is None:  # closed meanwhile
            return []
        self._catchup = (events[-1].kv.mod_revision, upto) if len(events) == page else None
        if events:
            self._delivered = events[-1].kv.mod_revision
        return events


RING_SECONDS = 75.0  # recent events kept in memory at most this long (as the API's watch cache)


class WatchHub:
    """Watchers grouped by prefix, plus the ring of recent events. ``revision`` is the newest revision
    published to watchers (it may trail the committed revision by the batch in flight)."""

    def __init__(
        self,
        revision: int,
        read_history: HistoryReader,
        *,
        ring_size: int,
        queue_limit: int,
        history_page: int,
        ring_seconds: float = RING_SECONDS,
    ) -> None:
        self.revision = revision
        self.read_history = read_history
        self.queue_limit = queue_limit
        self.history_page = history_page
        self._ring_size = ring_size
        self._ring_seconds = ring_seconds
        self._ring: list[WatchEvent] = []  # consecutive revisions, oldest first
        self._ring_marks: deque[tuple[float, int]] = deque()  # (when, ring length after) per published batch
        self._ring_dropped = 0  # events trimmed off the ring's front so far (marks count from the start)
        self._trimmed_at = 0.0
        # The newest ring event of each key, so an update's previous value can be that event's (the same
        # bytes) rather than the copy the writer read back: without it every Lease renewal in the ring
        # held its value twice.
        self._latest: dict[str, WatchEvent] = {}
        self._by_prefix: dict[str, dict[HubWatch, None]] = {}

    def publish(self, events: list[WatchEvent]) -> None:
        """Hand one committed batch (consecutive revisions, in order) to every matching watcher."""
        latest = self._latest
        for event in events:
            prev = event.prev
            if prev is not None:
                before = latest.get(prev.key)
                if before is not None and before.kv.mod_revision == prev.mod_revision:
                    event.prev = before.kv
            latest[event.kv.key] = event
        ring = self._ring
        ring.extend(events)
        self._ring_marks.append((time.monotonic(), self._ring_dropped + len(ring)))
        self._trim_ring()
        self.revision = events[-1].kv.mod_revision
        overflowed: list[HubWatch] = []
        for prefix, watchers in self._by_prefix.items():
            if prefix:
                matched = [event for event in events if event.kv.key.startswith(prefix)]
                if not matched:
                    continue
            else:
                matched = events
            for watcher in watchers:
                if not watcher._push(matched):
                    overflowed.append(watcher)
        for watcher in overflowed:
            self.remove(watcher)

    def _trim_ring(self) -> None:
        """Keeps the last ``ring_seconds`` of events and at most ``ring_size`` of them. Trims in bulk: at
        most once a second, unless the ring is more than a quarter over its size."""
        ring = self._ring
        over = len(ring) - self._ring_size
        now = time.monotonic()
        if over <= self._ring_size // 4 and now - self._trimmed_at < 1.0:
            return
        self._trimmed_at = now
        marks = self._ring_marks
        cutoff = now - self._ring_seconds
        drop = max(over, 0)
        while marks and marks[0][0] < cutoff:
            drop = max(drop, marks.popleft()[1] - self._ring_dropped)
        if drop <= 0:
            return
        latest = self._latest
        for event in ring[:drop]:
            if latest.get(event.kv.key) is event:
                del latest[event.kv.key]
        del ring[:drop]
        self._ring_dropped += drop
        while marks and marks[0][1] <= self._ring_dropped:
            marks.popleft()

    def open(self, prefix: str, after: int, committed: int, compacted: int) -> HubWatch:
        if after < compacted:
            raise CompactedError(after, compacted)
        if after > committed:
            raise FutureRevisionError(after, committed)
        watch = HubWatch(self, prefix, after, max(after, self.revision))
        if after < self.revision:
            backlog = self._from_ring(prefix, after)
            if backlog is None:
                watch._catchup = (after, self.revision)
            elif backlog:
                watch._pending.append(backlog)  # not counted against the limit: it is not lag
        self._by_prefix.setdefault(prefix, {})[watch] = None
        return watch

    def remove(self, watch: HubWatch) -> None:
        watchers = self._by_prefix.get(watch.prefix)
        if watchers is None:
            return
        watchers.pop(watch, None)
        if not watchers:
            del self._by_prefix[watch.prefix]

    def close_all(self) -> None:
        for watchers in list(self._by_prefix.values()):
            for watch in list(watchers):
                watch._end()
        self._by_prefix.clear()

    @property
    def watcher_count(self) -> int:
        return sum(len(watchers) for watchers in self._by_prefix.values())

    def _from_ring(self, prefix: str, after: int) -> list[WatchEvent] | None:
        """Events under ``prefix`` after ``after`` from the ring; None if the ring does not reach back."""
        ring = self._ring
        if not ring or ring[0].kv.mod_revision > after + 1:
            return None
        start = after + 1 - ring[0].kv.mod_revision
        return [event for event in ring[start:] if event.kv.key.startswith(prefix)]
