"""The watch cache: one store watch per resource type, fanned out to every HTTP watch of that type.

Like kube-apiserver's Cacher, it keeps the current objects and a ring of recent events in memory, so
that a thousand watchers cost one store watch, each event is decoded once and encoded once per wire
format, and a watch from a recent resourceVersion is served without touching the store.

The ring holds the store's own events (encoded values the store's watch ring shares), not decoded
copies, and only for the last ``RING_SECONDS``, as kube-apiserver keeps 75 s of events: every node renews
its Lease every 10 s, and a ring of decoded Leases sized by count alone would hold dozens of old
versions of each node's Lease. A watch from further back is served from the store. Events are
handed to watchers synchronously from one task (no task switch per watcher); under many watchers,
dispatch is coalesced over a few milliseconds so each watcher gets one write per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgeplane.apiserver.shared_strings import share_strings
from edgeplane.apiserver.storage import decode
from edgeplane.store.interface import EventType, Store, WatchEvent

log = logging.getLogger(__name__)

RING_SIZE = 50_000  # events at most
RING_SECONDS = 75.0  # and none older than this (kube-apiserver's eventFreshDuration)
# Coalescing window: 20 us per watcher, capped, so 1,000 watchers get one write every 20 ms (p99 delivery
# stays well under 100 ms while TLS writes drop from one per event to one per batch).
_DISPATCH_COST_PER_WATCHER = 0.00002
_MAX_DISPATCH_DELAY = 0.02


@dataclass(slots=True, eq=False)
class CacheEvent:
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    namespace: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None
    revision: int
    cache: dict[Any, bytes] = field(default_factory=dict)  # encoded forms, shared by all watchers


class Sink(Protocol):
    start_revision: int

    def deliver(self, events: list[CacheEvent]) -> None: ...

    def fail(self, status: dict[str, Any]) -> None: ...


def namespace_of(key: str, prefix: str, namespaced: bool) -> str:
    if not namespaced:
        return ""
    rest = key[len(prefix) :]
    return rest.split("/", 1)[0]


def cache_event(ev: WatchEvent, prefix: str, namespaced: bool, prev: dict[str, Any] | None) -> CacheEvent:
    obj = decode(ev.kv)
    if ev.type is EventType.DELETE:
        kind = "DELETED"
    elif ev.kv.create_revision == ev.kv.mod_revision:
        kind = "ADDED"
    else:
        kind = "MODIFIED"
    return CacheEvent(kind, ev.kv.key, namespace_of(ev.kv.key, prefix, namespaced), obj, prev, ev.kv.mod_revision)


class Cacher:
    def __init__(self, store: Store, prefix: str, namespaced: bool, ring_size: int = RING_SIZE,
                 ring_seconds: float = RING_SECONDS) -> None:
        self.store = store
        self.prefix = prefix
        self.namespaced = namespaced
        self.objects: dict[str, dict[str, Any]] = {}
        self.revision = 0  # everything up to here is applied
        self.ring: deque[WatchEvent] = deque()
        self.ring_size = ring_size
        self.ring_seconds = ring_seconds
        self._ring_marks: deque[tuple[float, int]] = deque()  # (when, last revision) of each applied batch
        self.ring_start = 0  # the ring holds every event after this revision
        self.sinks: set[Sink] = set()
        self._pending: list[CacheEvent] = []
        self._dispatch_handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def start(self) -> None:
        result = await self.store.range(self.prefix)
        for kv in result.kvs:
            self.objects[sys.intern(kv.key)] = share_strings(decode(kv))  # the key the writes use
        self.revision = self.ring_start = result.revision
        watch = self.store.watch(self.prefix, result.revision)
        self._task = asyncio.create_task(self._run(watch), name=f"cacher {self.prefix}")
        self._ready.set()

    async def ready(self) -> None:
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._dispatch_handle:
            self._dispatch_handle.cancel()
        self._flush()

    async def _run(self, watch: Any) -> None:
        try:
            async for batch in watch:
                self._apply(batch)
        except asyncio.CancelledError:
            watch.close()
            raise
        except Exception:
            log.exception("watch cache for %s stopped; restarting", self.prefix)
            self._restart_later()

    def _restart_later(self) -> None:
        async def restart() -> None:
            await asyncio.sleep(0.5)
            self.objects.clear()
            self.ring.clear()
            self._ring_marks.clear()
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "the watch cache was reset; please re-list", "reason": "Expired", "code": 410}
            for sink in list(self.sinks):
                sink.fail(status)
            self.sinks.clear()
            await self.start()

        asyncio.get_running_loop().create_task(restart())

    def _apply(self, batch: list[WatchEvent]) -> None:
        objects = self.objects
        for ev in batch:
            key = ev.kv.key
            ce = cache_event(ev, self.prefix, self.namespaced, objects.get(key))
            if ce.type == "DELETED":
                objects.pop(key, None)
            else:
                objects[key] = share_strings(ce.obj)
            self.ring.append(ev)
            self._pending.append(ce)
            self.revision = ce.revision
        self._trim_ring(time.monotonic())
        self._wake_revision_waiters()
        if self._dispatch_handle is None:
            delay = min(_MAX_DISPATCH_DELAY, len(self.sinks) * _DISPATCH_COST_PER_WATCHER)
            if delay < 0.001:
                self._flush()
            else:
                self._dispatch_handle = asyncio.get_running_loop().call_later(delay, self._flush)

    def _trim_ring(self, now: float) -> None:
        ring, marks = self.ring, self._ring_marks
        marks.append((now, self.revision))
        cutoff = now - self.ring_seconds
        while marks and marks[0][0] < cutoff:
            _, upto = marks.popleft()
            while ring and ring[0].kv.mod_revision <= upto:
                ring.popleft()
            self.ring_start = max(self.ring_start, upto)
        while len(ring) > self.ring_size:
            self.ring_start = ring.popleft().kv.mod_revision

    def _flush(self) -> None:
        self._dispatch_handle = None
        events, self._pending = self._pending, []
        if not events:
            return
        for sink in list(self.sinks):
            try:
                if sink.start_revision >= events[0].revision:
                    late = [e for e in events if e.revision > sink.start_revision]
                    if late:
                        sink.deliver(late)
                else:
                    sink.deliver(events)
            except Exception:
                log.exception("watcher failed; closing it")
                self.sinks.discard(sink)

    def _wake_revision_waiters(self) -> None:
        if not self._revision_waiters:
            return
        still = []
        for rev, fut in self._revision_waiters:
            if self.revision >= rev:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((rev, fut))
        self._revision_waiters = still

    # -- what watch handlers use -------------------------------------------------------------------

    def snapshot(self, namespace: str, keep: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        prefix = f"{self.prefix}{namespace}/" if namespace and self.namespaced else self.prefix
        out = [obj for key, obj in self.objects.items() if key.startswith(prefix)]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return [o for o in out if keep(o)] if keep else out

    def events_after(self, revision: int) -> list[CacheEvent] | None:
        """Events after ``revision`` from the ring, or None when the ring no longer reaches back that far."""
        if revision < self.ring_start:
            return None
        ring = self.ring
        if not ring or revision >= ring[-1].kv.mod_revision:
            return []
        # Binary search on the ring's revisions (they are increasing).
        lo, hi = 0, len(ring)
        while lo < hi:
            mid = (lo + hi) // 2
            if ring[mid].kv.mod_revision <= revision:
                lo = mid + 1
            else:
                hi = mid
        prefix, namespaced = self.prefix, self.namespaced
        return [cache_event(ring[i], prefix, namespaced, decode(ring[i].prev) if ring[i].prev is not None else None)
                for i in range(lo, len(ring))]

    def add(self, sink: Sink) -> None:
        self.sinks.add(sink)

    def remove(self, sink: Sink) -> None:
        self.sinks.discard(sink)

    async def wait_for_revision(self, revision: int, within: float) -> bool:
        if self.revision >= revision:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revision_waiters.append((revision, fut))
        try:
            await asyncio.wait_for(fut, within)
            return True
        except TimeoutError:
            return False
