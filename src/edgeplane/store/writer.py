"""The store's single writer: one thread owning the read-write connection, committing in groups.

Every write request waits on a queue. The writer takes all that are waiting (up to ``max_batch``),
applies them one after another in one transaction, commits once, and then hands every request's own
outcome (its new KeyValue or its error) and the batch's events back to the event loop in a single
callback. Under load the queue fills while a commit is in flight, so the cost of a commit (and its
fsync) is shared by everything that arrived meanwhile. A request that fails its checks (a failed
compare-and-swap, say) only fails itself; should SQLite itself fail mid-batch, the batch is rolled
back and retried one request per transaction so that only the offending request fails.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from edgeplane.store.compaction import RetentionPolicy, compact_chunk
from edgeplane.store.interface import (
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
    StoreError,
    WatchEvent,
)
from edgeplane.store.schema import current_revision, read_meta

log = logging.getLogger(__name__)

CREATE, UPDATE, DELETE, COMPACT = range(4)

# (op, key, value, expected revision or compaction target, future)
Request = tuple[int, str, bytes, int, asyncio.Future]
# (future, KeyValue or None on success, or the error to raise)
Outcome = tuple[asyncio.Future, Any]
CommitCallback = Callable[[list[Outcome], list[WatchEvent]], None]

_STOP: Any = object()

_SELECT_KV = "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?"
_INSERT_KV_IF_ABSENT = (
    "INSERT INTO kv (key, value, create_rev, mod_rev) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
_UPDATE_KV = "UPDATE kv SET value = ?, mod_rev = ? WHERE key = ?"
_DELETE_KV = "DELETE FROM kv WHERE key = ?"
_INSERT_HISTORY = (
    "INSERT INTO history (rev, key, value, create_rev, prev_rev, deleted) VALUES (?, ?, ?, ?, ?, ?)"
)
_SET_META = (
    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


def _create(cur: sqlite3.Cursor, key: str, value: bytes, expected: int, rev: int) -> WatchEvent:
    cur.execute(_INSERT_KV_IF_ABSENT, (key, value, rev, rev))
    if cur.rowcount == 0:
        raise KeyExistsError(key)
    cur.execute(_INSERT_HISTORY, (rev, key, value, rev, 0, 0))
    return WatchEvent(EventType.PUT, KeyValue(key, value, rev, rev))


def _current(cur: sqlite3.Cursor, key: str, expected: int) -> KeyValue:
    row = cur.execute(_SELECT_KV, (key,)).fetchone()
    if row is None:
        raise KeyNotFoundError(key)
    kv = KeyValue(key, row[0], row[1], row[2])
    if expected and kv.mod_revision != expected:
        raise RevisionConflictError(key, expected, kv)
    return kv


def _update(cur: sqlite3.Cursor, key: str, value: bytes, expected: int, rev: int) -> WatchEvent:
    prev = _current(cur, key, expected)
    cur.execute(_UPDATE_KV, (value, rev, key))
    cur.execute(_INSERT_HISTORY, (rev, key, value, prev.create_revision, prev.mod_revision, 0))
    return WatchEvent(EventType.PUT, KeyValue(key, value, prev.create_revision, rev), prev)


def _delete(cur: sqlite3.Cursor, key: str, value: bytes, expected: int, rev: int) -> WatchEvent:
    prev = _current(cur, key, expected)
    cur.execute(_DELETE_KV, (key,))
    cur.execute(_INSERT_HISTORY, (rev, key, prev.value, prev.create_revision, prev.mod_revision, 1))
    return WatchEvent(EventType.DELETE, KeyValue(key, prev.value, prev.create_revision, rev), prev)


_APPLY = {CREATE: _create, UPDATE: _update, DELETE: _delete}


class Writer:
    """Owns ``conn`` from ``start()`` on; ``revision`` and ``compacted`` are read by other threads
    (plain int attributes, so reads are atomic) and change only after a commit."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        on_commit: CommitCallback,
        *,
        max_batch: int,
        compact_chunk_size: int,
        policy: RetentionPolicy,
        compact_interval: float,
    ) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._chunk = compact_chunk_size
        self._policy = policy
        self._compact_interval = compact_interval
        self.commits = 0  # transactions committed, for batching statistics
        self.revision = current_revision(conn)
        self.compacted = read_meta(conn, "compacted")
        self._cursor = read_meta(conn, "compact_cursor")  # history below it is already compacted
        self._queue: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: Request) -> None:
        if self._failed is not None:
            raise StoreError(f"the store's writer has stopped: {self._failed!r}")
        self._queue.put(request)

    def stop(self) -> None:
        """Ask the thread to finish the requests already queued, then exit; join() waits for it."""
        self._queue.put(_STOP)

    def join(self) -> None:
        self._thread.join()

    # -- the thread

    def _run(self) -> None:
        next_tick = time.monotonic() + self._compact_interval
        batch: list[Request] = []
        try:
            while True:
                batch, stopping = self._take_batch(self._wait_time(next_tick))
                if self._policy.enabled and time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self._compact_interval
                    target = self._policy.target(self.revision)
                    if target > self.compacted:
                        batch.append((COMPACT, "", b"", target, None))  # type: ignore[arg-type]
                if batch or self._cursor < self.compacted:
                    self._commit(batch, compact=True)
                if stopping:
                    return
        except BaseException as exc:  # a bug; fail what waits rather than leave it hanging
            log.exception("store: writer thread failed")
            self._failed = exc
            self._fail_queued(batch, exc)
        finally:
            self._conn.close()

    def _fail_queued(self, batch: list[Request], exc: BaseException) -> None:
        """Fail the batch in hand and every queued request (resolved ones are skipped on delivery)."""
        requests = list(batch)
        while True:
            try:
                requests.append(self._queue.get_nowait())
            except queue.Empty:
                break
        error = f"the store's writer has stopped: {exc!r}"
        outcomes = [(r[4], StoreError(error)) for r in requests if r is not _STOP and r[4] is not None]
        self._report(outcomes, [])

    def _wait_time(self, next_tick: float) -> float | None:
        if self._cursor < self.compacted:
            return 0.0  # compaction work pending: only look at the queue, do not sleep
        if self._policy.enabled:
            return max(0.0, next_tick - time.monotonic())
        return None

    def _take_batch(self, timeout: float | None) -> tuple[list[Request], bool]:
        batch: list[Request] = []
        q = self._queue
        try:
            request = q.get(timeout=timeout) if timeout != 0.0 else q.get_nowait()
            while request is not _STOP:
                batch.append(request)
                if len(batch) >= self._max_batch:
                    return batch, False
                request = q.get_nowait()
        except queue.Empty:
            return batch, False
        return batch, True

    def _commit(self, batch: list[Request], compact: bool) -> None:
        cur = self._cur
        rev = self.revision
        compacted = self.compacted
        cursor = self._cursor
        outcomes: list[Outcome] = []
        events: list[WatchEvent] = []
        try:
            cur.execute("BEGIN IMMEDIATE")
            for op, key, value, expected, future in batch:
                try:
                    if op == COMPACT:
                        compacted = self._start_compaction(expected, rev, compacted)
                        if future is not None:  # None: the automatic compactor's own request
                            outcomes.append((future, None))
                    else:
                        event = _APPLY[op](cur, key, value, expected, rev + 1)
                        rev += 1
                        events.append(event)
                        outcomes.append((future, event.kv))
                except StoreError as exc:
                    if future is not None:
                        outcomes.append((future, exc))
            if compact and cursor < compacted:
                cursor = compact_chunk(cur, cursor, compacted, self._chunk)
                cur.execute(_SET_META, ("compact_cursor", cursor))
            cur.execute("COMMIT")
        except Exception as exc:
            if self._conn.in_transaction:
                self._conn.rollback()
            self._recover(batch, compact, exc)
            return
        self.commits += 1
        self.revision = rev
        self.compacted = compacted
        self._cursor = cursor
        self._report(outcomes, events)

    def _start_compaction(self, target: int, rev: int, compacted: int) -> int:
        if target > rev:
            raise FutureRevisionError(target, rev)
        if target <= compacted:
            return compacted  # already compacted at least that far: nothing to do
        self._cur.execute(_SET_META, ("compacted", target))
        return target

    def _recover(self, batch: list[Request], compact: bool, exc: Exception) -> None:
        if compact and not batch:
            log.error("store: history compaction step failed: %s", exc)
            time.sleep(1.0)  # do not spin on a compaction that keeps failing
        elif compact or len(batch) > 1:
            # Find the culprit: each request alone, without the compaction step.
            for request in batch:
                self._commit([request], compact=False)
        else:
            op, key, _, _, future = batch[0]
            what = "compaction" if op == COMPACT else f"write of key {key!r}"
            log.error("store: %s failed: %s", what, exc)
            if future is not None:
                self._report([(future, StoreError(f"{what} failed: {exc}"))], [])

    def _report(self, outcomes: list[Outcome], events: list[WatchEvent]) -> None:
        if outcomes or events:
            self._on_commit(outcomes, events)
