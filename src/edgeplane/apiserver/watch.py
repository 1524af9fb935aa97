"""HTTP watches: newline-delimited JSON events over a chunked response, fed by the watch cache."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from edgeplane.api.registry import ResourceType
from edgeplane.apiserver.cacher import CacheEvent, Cacher, cache_event
from edgeplane.apiserver.storage import decode
from edgeplane.apiserver.tables import table_row
from edgeplane.store.interface import CompactedError, Store

# A watcher whose unread output passes this is too slow to keep: it is closed and re-lists, as
# kube-apiserver does with unresponsive watchers, so it can never fill the server's memory.
MAX_UNREAD_BYTES = 16 * 1024 * 1024
BOOKMARK_INTERVAL = 60.0


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class TableFormat:
    def __init__(self, rt: ResourceType, api_version: str, include_object: str) -> None:
        self.rt = rt
        self.api_version = api_version
        self.include_object = include_object
        self.cache_key = ("table", api_version, include_object)
        self.columns = rt.table_columns()

    def encode(self, obj: dict[str, Any]) -> bytes:
        table = {
            "kind": "Table",
            "apiVersion": self.api_version,
            "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
            "columnDefinitions": self.columns,
            "rows": [table_row(self.rt, obj, datetime.now(UTC), self.include_object)],
        }
        return orjson.dumps(table)


class HTTPWatch:
    """One client's watch: filters cache events and writes them straight to its connection."""

    def __init__(
        self,
        transport: asyncio.Transport,
        namespace: str,
        name: str,
        keep: Callable[[dict[str, Any]], bool] | None,
        table: TableFormat | None,
    ) -> None:
        self.transport = transport
        self.namespace = namespace
        self.name = name
        self.keep = keep
        self.table = table
        self.start_revision = 0
        self.last_revision = 0
        self.closed = asyncio.Event()

    def _encode(self, ev: CacheEvent, kind: str, obj: dict[str, Any]) -> bytes:
        fmt = self.table.cache_key if self.table else "json"
        key = (fmt, kind, obj is ev.obj)
        data = ev.cache.get(key)
        if data is None:
            body = self.table.encode(obj) if self.table else orjson.dumps(obj)
            data = b'{"type":"' + kind.encode() + b'","object":' + body + b"}\n"
            ev.cache[key] = data
        return data

    def _event_type(self, ev: CacheEvent) -> str | None:
        keep = self.keep
        if keep is None:
            return ev.type
        if ev.type == "DELETED":
            return "DELETED" if keep(ev.obj) else None
        now = keep(ev.obj)
        before = ev.prev is not None and keep(ev.prev)
        if now:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None

    def deliver(self, events: list[CacheEvent]) -> None:
        if self.closed.is_set():
            return
        chunks = []
        ns, name = self.namespace, self.name
        for ev in events:
            if ns and ev.namespace != ns:
                continue
            if name and ev.obj["metadata"].get("name") != name:
                continue
            kind = self._event_type(ev)
            if kind is not None:
                chunks.append(self._encode(ev, kind, ev.obj))
        if events:
            self.last_revision = events[-1].revision
        if chunks:
            self.write(b"".join(chunks))

    def initial(self, objs: list[dict[str, Any]]) -> None:
        chunks = []
        for obj in objs:
            body = self.table.encode(obj) if self.table else orjson.dumps(obj)
            chunks.append(b'{"type":"ADDED","object":' + body + b"}\n")
        if chunks:
            self.write(b"".join(chunks))

    def bookmark(self, rt: ResourceType, revision: int) -> None:
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(revision)}}
        self.write(b'{"type":"BOOKMARK","object":' + orjson.dumps(obj) + b"}\n")

    def fail(self, status: dict[str, Any]) -> None:
        self.write(b'{"type":"ERROR","object":' + orjson.dumps(status) + b"}\n")
        self.closed.set()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():
            self.closed.set()
            return
        # Chunked transfer framing written directly: one syscall per batch, no task switch per watcher.
        transport.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
        if transport.get_write_buffer_size() > MAX_UNREAD_BYTES:
            self.closed.set()
            transport.abort()


async def serve_watch(
    request: web.Request,
    rt: ResourceType,
    cacher: Cacher,
    store: Store,
    namespace: str,
    name: str,
    keep: Callable[[dict[str, Any]], bool] | None,
    resource_version: str,
    timeout_seconds: int | None,
    bookmarks: bool,
    table: TableFormat | None,
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    transport = request.transport
    assert transport is not None
    writer = request._payload_writer
    with contextlib.suppress(AttributeError):
        writer.send_headers()  # headers first: our chunks go to the transport directly
    watch = HTTPWatch(transport, namespace, name, keep, table)
    fallback: asyncio.Task[None] | None = None
    await cacher.ready()
    if resource_version in ("", "0"):
        watch.initial(cacher.snapshot(namespace, _and(keep, name)))
        watch.start_revision = cacher.revision
        cacher.add(watch)
    else:
        rv = int(resource_version)
        if rv > store.revision and not await _wait_store(store, rv):
            watch.fail(_status(504, "Timeout", f"Too large resource version: {rv}, current: {store.revision}"))
        elif rv < store.compacted_revision:
            watch.fail(_status(410, "Expired", f"too old resource version: {rv} ({store.compacted_revision})"))
        else:
            events = cacher.events_after(rv)
            if events is None:
                fallback = asyncio.create_task(_watch_from_store(watch, cacher, store, rv))
            else:
                watch.start_revision = max(rv, cacher.revision)
                watch.deliver(events)
                cacher.add(watch)
    timeout = timeout_seconds if timeout_seconds and timeout_seconds > 0 else random.uniform(1800, 3600)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not watch.closed.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.closed.wait(), min(remaining, BOOKMARK_INTERVAL))
            if bookmarks and not watch.closed.is_set() and watch in cacher.sinks:
                watch.bookmark(rt, max(watch.last_revision, watch.start_revision))
    finally:
        cacher.remove(watch)
        if fallback:
            fallback.cancel()
    if not transport.is_closing():
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    return response


def _and(keep: Callable[[dict[str, Any]], bool] | None, name: str) -> Callable[[dict[str, Any]], bool] | None:
    if not name:
        return keep
    if keep is None:
        return lambda o: o["metadata"].get("name") == name
    return lambda o: o["metadata"].get("name") == name and keep(o)


async def _wait_store(store: Store, rv: int, within: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while store.revision < rv:
        if loop.time() > end:
            return False
        await asyncio.sleep(0.05)
    return True


async def _watch_from_store(watch: HTTPWatch, cacher: Cacher, store: Store, rv: int) -> None:
    """A watch from further back than the cache's ring: replay from the store, then join the cache."""
    prev_state: dict[str, dict[str, Any]] = {}
    try:
        stream = store.watch(cacher.prefix, rv)
        async for batch in stream:
            events = []
            for ev in batch:
                prev = prev_state.get(ev.kv.key)
                if prev is None and ev.prev is not None:
                    prev = decode(ev.prev)
                ce = cache_event(ev, cacher.prefix, cacher.namespaced, prev)
                prev_state[ev.kv.key] = ce.obj
                events.append(ce)
            watch.deliver(events)
            if watch.closed.is_set():
                break
            if watch.last_revision >= cacher.revision and cacher.events_after(watch.last_revision) is not None:
                watch.start_revision = watch.last_revision
                cacher.add(watch)
                stream.close()
                break
    except CompactedError as exc:
        watch.fail(_status(410, "Expired", f"too old resource version: {rv} ({exc.compacted})"))
