"""The SQLite backend of the revisioned store: one database file (DATA/state.db) in WAL mode.

The pieces: a single writer thread that group-commits queued writes (writer.py), a pool of reader
threads with their own connections (reader.py), the watch hub on the event loop (watch.py) and
history compaction (compaction.py). This class wires them together and is the asyncio face of the
store: nothing here blocks the event loop on SQLite.

The store binds to the event loop that first uses it; use it from that loop only.

Compaction follows etcd: after ``compact(R)``, ``compacted_revision`` is R, reads at revisions below R
and watches after revisions below R raise CompactedError, while reads at R itself still work (the
history "older than R" is what goes).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from edgeplane.store.compaction import RetentionPolicy
from edgeplane.store.interface import KeyValue, RangeResult, Store, StoreError, Watch, WatchEvent
from edgeplane.store.keys import check_key, check_prefix, check_revision, check_value
from edgeplane.store.lock import DataDirLock
from edgeplane.store.reader import Reader
from edgeplane.store.schema import DB_FILE, open_writer
from edgeplane.store.watch import WatchHub
from edgeplane.store.writer import COMPACT, CREATE, DELETE, UPDATE, Outcome, Writer

log = logging.getLogger(__name__)

T = TypeVar("T")


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"store option {name} must be a positive number, got {value!r}")


class SQLiteStore(Store):
    """Options:

    synchronous        "FULL" (default: acknowledged writes survive power loss) or "NORMAL" (they
                       survive a crash of the process, not necessarily of the machine).
    readers            threads (and read connections) serving get/range/count/history.
    max_batch          most write requests committed in one transaction.
    watch_cache_size   recent events kept in memory for watches that start slightly in the past.
    watch_queue_limit  events a watcher may have waiting before its watch is ended as too slow.
    retain_seconds     automatic compaction keeps at least this much history (None: no time bound).
    retain_revisions   ... and at least this many revisions (None: no count bound). Both None turns
                       automatic compaction off.
    compact_interval   seconds between automatic compaction checks.
    compact_chunk      revisions of history examined per compaction step (one step per commit).
    history_page       events read from history per step when a watch catches up from the past.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        synchronous: str = "FULL",
        readers: int = 2,
        max_batch: int = 1000,
        watch_cache_size: int = 10_000,
        watch_queue_limit: int = 10_000,
        retain_seconds: float | None = 300.0,
        retain_revisions: int | None = None,
        compact_interval: float = 60.0,
        compact_chunk: int = 10_000,
        history_page: int = 1000,
    ) -> None:
        for name, number in (
            ("readers", readers), ("max_batch", max_batch), ("watch_cache_size", watch_cache_size),
            ("watch_queue_limit", watch_queue_limit), ("compact_interval", compact_interval),
            ("compact_chunk", compact_chunk), ("history_page", history_page),
        ):  # fmt: skip
            _positive(name, number)
        policy = RetentionPolicy(retain_seconds, retain_revisions)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / DB_FILE
        self._lock = DataDirLock(self.data_dir / f"{DB_FILE}.lock")
        try:
            conn = open_writer(path, synchronous)
        except BaseException:
            self._lock.release()
            raise
        self._writer = Writer(
            conn, self._on_commit, max_batch=max_batch, compact_chunk_size=compact_chunk,
            policy=policy, compact_interval=compact_interval,
        )  # fmt: skip
        self._reader = Reader(path, readers)
        self._hub = WatchHub(
            self._writer.revision, self._read_history, ring_size=watch_cache_size,
            queue_limit=watch_queue_limit, history_page=history_page,
        )  # fmt: skip
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._writer.start()

    # -- state

    @property
    def revision(self) -> int:
        return self._writer.revision

    @property
    def compacted_revision(self) -> int:
        return self._writer.compacted

    @property
    def commit_count(self) -> int:
        """Transactions committed since opening; writes per commit shows how well writes batch."""
        return self._writer.commits

    @property
    def watcher_count(self) -> int:
        return self._hub.watcher_count

    # -- reads

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        check_key(key)
        check_revision(revision, "revision")
        return await self._read(self._reader.get, key, revision)

    async def range(
        self, prefix: str, revision: int = 0, start_after: str | None = None, limit: int = 0
    ) -> RangeResult:
        check_prefix(prefix)
        check_revision(revision, "revision")
        if start_after is not None:
            check_key(start_after, "start_after")
        check_revision(limit, "limit")
        return await self._read(self._reader.range, prefix, revision, start_after, limit)

    async def count(self, prefix: str) -> int:
        check_prefix(prefix)
        return await self._read(self._reader.count, prefix)

    async def _read(self, query: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await asyncio.get_running_loop().run_in_executor(self._reader.pool, query, *args)

    async def _read_history(self, prefix: str, after: int, upto: int, limit: int) -> list[WatchEvent]:
        return await self._read(self._reader.history, prefix, after, upto, limit)

    # -- writes

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._write(CREATE, check_key(key), check_value(value), 0)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        check_revision(expected_revision, "expected_revision")
        return await self._write(UPDATE, check_key(key), check_value(value), expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        check_revision(expected_revision, "expected_revision")
        return await self._write(DELETE, check_key(key), b"", expected_revision)

    async def compact(self, revision: int) -> None:
        """Compacting to a revision at or below ``compacted_revision`` does nothing."""
        if check_revision(revision, "revision") == 0:
            raise ValueError("revision to compact to must be >= 1")
        await self._write(COMPACT, "", b"", revision)

    async def _write(self, op: int, key: str, value: bytes, expected: int) -> Any:
        self._check_open()
        # One string object per key for every event of it the history rings hold: a node's Lease is
        # renewed every 10 s and each renewal's key came from its own request (~120 bytes a copy).
        key = sys.intern(str(key))
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        future = loop.create_future()
        self._writer.submit((op, key, value, expected, future))
        return await future

    def _on_commit(self, outcomes: list[Outcome], events: list[WatchEvent]) -> None:
        """Called on the writer thread after each commit: hand the results to the loop in one go."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._deliver, outcomes, events)
        except RuntimeError:
            log.warning("store: event loop closed before %d write results could be delivered", len(outcomes))

    def _deliver(self, outcomes: list[Outcome], events: list[WatchEvent]) -> None:
        if events:
            self._hub.publish(events)
        for future, result in outcomes:
            if future.done():  # the caller was cancelled; the write stands all the same
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    # -- watches

    def watch(self, prefix: str, after_revision: int) -> Watch:
        check_prefix(prefix)
        check_revision(after_revision, "after_revision")
        self._check_open()
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        return self._hub.open(prefix, after_revision, self._writer.revision, self._writer.compacted)

    # -- lifecycle

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("this store is bound to another event loop; use it from that loop only")
        self._loop = loop

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store in {self.data_dir} is closed")

    async def close(self) -> None:
        """Finish the writes already queued, end every watch (after its queued events), stop the
        threads and release the data directory."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        await asyncio.to_thread(self._writer.join)
        # The writer's last results were queued on the loop before join() returned; let them land.
        await asyncio.sleep(0)
        self._hub.close_all()
        await asyncio.to_thread(self._reader.close)
        self._lock.release()


def open_store(data_dir: str | Path, **opts: Any) -> Store:
    """Open (creating if needed) the SQLite store in ``data_dir``; see SQLiteStore for ``opts``."""
    return SQLiteStore(data_dir, **opts)
