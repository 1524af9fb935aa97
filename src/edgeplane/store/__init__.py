"""The revisioned key-value store: the interface every backend implements, and the SQLite backend."""

from edgeplane.store.interface import (
    CompactedError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionConflictError,
    Store,
    StoreError,
    Watch,
    WatchEvent,
)
from edgeplane.store.sqlite import SQLiteStore, open_store
from edgeplane.store.watch import WatchOverflowError

__all__ = [
    "CompactedError",
    "EventType",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "RangeResult",
    "RevisionConflictError",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Watch",
    "WatchEvent",
    "WatchOverflowError",
    "open_store",
]
