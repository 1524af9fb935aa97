"""The store's read side: a small pool of threads, each with its own read-only connection.

WAL mode lets these read a consistent snapshot while the writer commits. A read that must report the
revision it saw (a range) or that reads history runs in one read transaction, so the revision checks
and the data come from the same snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import starmap
from pathlib import Path

from edgeplane.store.interface import (
    CompactedError,
    EventType,
    FutureRevisionError,
    KeyValue,
    RangeResult,
    WatchEvent,
)
from edgeplane.store.keys import key_bounds
from edgeplane.store.schema import open_reader

_SNAPSHOT = """
SELECT coalesce((SELECT max(rev) FROM history), 0),
       coalesce((SELECT value FROM meta WHERE name = 'compacted'), 0)
"""
_GET_CURRENT = "SELECT key, value, create_rev, mod_rev FROM kv WHERE key = ?"
_GET_AT = """
SELECT key, value, create_rev, rev, deleted FROM history
WHERE key = ? AND rev <= ? ORDER BY rev DESC LIMIT 1
"""
_RANGE_CURRENT = "SELECT key, value, create_rev, mod_rev FROM kv WHERE {bounds} ORDER BY key LIMIT ?"
# With exactly one max() aggregate SQLite takes the bare columns from the row holding the maximum,
# which is each key's newest version at or before the revision.
_RANGE_AT = """
SELECT key, value, create_rev, rev FROM (
    SELECT key, max(rev) AS rev, value, create_rev, deleted FROM history
    WHERE {bounds} AND rev <= ? GROUP BY key)
WHERE deleted = 0 ORDER BY key LIMIT ?
"""
_COUNT = "SELECT count(*) FROM kv WHERE {bounds}"
_HISTORY = """
SELECT h.rev, h.key, h.value, h.create_rev, h.deleted, p.value, p.create_rev, p.rev
FROM history AS h LEFT JOIN history AS p ON p.rev = h.prev_rev
WHERE h.rev > ? AND h.rev <= ? AND {bounds}
ORDER BY h.rev LIMIT ?
"""


class Reader:
    """Query methods run on the pool's threads (``pool``); each uses its thread's connection."""

    def __init__(self, path: Path, threads: int) -> None:
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="store-reader", initializer=self._connect)

    def _connect(self) -> None:
        conn = open_reader(self._path)
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _conn(self) -> sqlite3.Connection:
        return self._local.conn

    def get(self, key: str, revision: int) -> KeyValue | None:
        conn = self._conn()
        if not revision:
            row = conn.execute(_GET_CURRENT, (key,)).fetchone()
            return KeyValue(*row) if row else None
        conn.execute("BEGIN")
        try:
            current = _check_revision(conn, revision)
            if revision == current:
                row = conn.execute(_GET_CURRENT, (key,)).fetchone()
                return KeyValue(*row) if row else None
            row = conn.execute(_GET_AT, (key, revision)).fetchone()
            return KeyValue(*row[:4]) if row and not row[4] else None
        finally:
            conn.execute("COMMIT")

    def range(self, prefix: str, revision: int, start_after: str | None, limit: int) -> RangeResult:
        conn = self._conn()
        bounds, params = key_bounds(prefix, start_after)
        conn.execute("BEGIN")
        try:
            current = _check_revision(conn, revision)
            # One row more than asked for tells whether the limit cut the result short.
            fetch = limit + 1 if limit else -1
            if not revision or revision == current:
                rows = conn.execute(_RANGE_CURRENT.format(bounds=bounds), (*params, fetch)).fetchall()
                revision = current
            else:
                rows = conn.execute(_RANGE_AT.format(bounds=bounds), (*params, revision, fetch)).fetchall()
        finally:
            conn.execute("COMMIT")
        more = bool(limit) and len(rows) > limit
        if more:
            del rows[limit:]
        return RangeResult(list(starmap(KeyValue, rows)), revision, more)

    def count(self, prefix: str) -> int:
        bounds, params = key_bounds(prefix)
        return self._conn().execute(_COUNT.format(bounds=bounds), params).fetchone()[0]

    def history(self, prefix: str, after: int, upto: int, limit: int) -> list[WatchEvent]:
        """Events under ``prefix`` with after < revision <= upto, oldest first, at most ``limit``."""
        conn = self._conn()
        bounds, params = key_bounds(prefix, column="h.key")
        conn.execute("BEGIN")
        try:
            current, compacted = conn.execute(_SNAPSHOT).fetchone()
            if after < compacted:
                raise CompactedError(after, compacted)
            if upto > current:
                raise FutureRevisionError(upto, current)
            rows = conn.execute(_HISTORY.format(bounds=bounds), (after, upto, *params, limit)).fetchall()
        finally:
            conn.execute("COMMIT")
        return [_event(*row) for row in rows]


def _check_revision(conn: sqlite3.Connection, revision: int) -> int:
    """The snapshot's current revision, after checking ``revision`` (0: current) can be read in it."""
    current, compacted = conn.execute(_SNAPSHOT).fetchone()
    if revision > current:
        raise FutureRevisionError(revision, current)
    if revision and revision < compacted:
        raise CompactedError(revision, compacted)
    return current


def _event(
    rev: int,
    key: str,
    value: bytes,
    create_rev: int,
    deleted: int,
    prev_value: bytes | None,
    prev_create: int | None,
    prev_rev: int | None,
) -> WatchEvent:
    prev = KeyValue(key, prev_value, prev_create, prev_rev) if prev_rev is not None else None  # type: ignore[arg-type]
    kind = EventType.DELETE if deleted else EventType.PUT
    return WatchEvent(kind, KeyValue(key, value, create_rev, rev), prev)
