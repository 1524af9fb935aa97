"""The revisioned key-value store every cloud component sits on, shaped like etcd.

One global revision counts every write. Each key carries the revision that created it and the
revision that last modified it; updates and deletes are guarded by that modification revision
(compare-and-swap). Reads can be made at the current revision or at any revision not yet compacted,
and a watch delivers every change after a revision, once and in order. Backends (SQLite, etcd)
implement this interface; nothing above it knows which one runs.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass


class StoreError(Exception):
    """Base class of every error a store raises."""


class KeyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class RevisionConflictError(StoreError):
    """A compare-and-swap failed: the key was modified since the revision the caller read."""

    def __init__(self, key: str, expected: int, current: KeyValue | None) -> None:
        actual = current.mod_revision if current else 0
        super().__init__(f"key {key!r} is at revision {actual}, not {expected}")
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StoreError):
    """The requested revision has been compacted away ("too old")."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} is older than the compacted revision {compacted}")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StoreError):
    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(slots=True, eq=False)
class WatchEvent:
    """One change. For a DELETE, ``kv.value`` is the value the key held before it was deleted and
    ``kv.mod_revision`` is the revision of the deletion."""

    type: EventType
    kv: KeyValue
    prev: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def created(self) -> bool:
        return self.type is EventType.PUT and self.kv.create_revision == self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int  # the revision the range was read at
    more: bool  # True when ``limit`` cut the result short


class Watch(abc.ABC):
    """A stream of changes under a prefix. Iterate it for batches of events in revision order."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the watch; a pending iteration ends."""


class Store(abc.ABC):
    @property
    @abc.abstractmethod
    def revision(self) -> int:
        """The current (latest committed) revision."""

    @property
    @abc.abstractmethod
    def compacted_revision(self) -> int:
        """Reads below this revision, and watches after a revision below it, fail with CompactedError."""

    @abc.abstractmethod
    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        """The key's value at ``revision`` (0: current), or None."""

    @abc.abstractmethod
    async def range(
        self, prefix: str, revision: int = 0, start_after: str | None = None, limit: int = 0
    ) -> RangeResult:
        """Keys starting with ``prefix`` in key order, after ``start_after`` if given, at most ``limit``
        (0: no limit), as of ``revision`` (0: current)."""

    @abc.abstractmethod
    async def count(self, prefix: str) -> int:
        """How many keys start with ``prefix`` now."""

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Create ``key``; raises KeyExistsError if it exists."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Replace ``key``'s value if its mod_revision is ``expected_revision`` (0: any).
        Raises KeyNotFoundError or RevisionConflictError."""

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Delete ``key`` if its mod_revision is ``expected_revision`` (0: any); returns the deleted
        value with ``mod_revision`` set to the deletion's revision."""

    @abc.abstractmethod
    def watch(self, prefix: str, after_revision: int) -> Watch:
        """Every change under ``prefix`` with revision > ``after_revision``, once and in order.
        Raises CompactedError (at creation or first iteration) when ``after_revision`` is older than
        the compacted revision."""

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``; the current value of every key is kept."""

    @abc.abstractmethod
    async def close(self) -> None: ...
