"""The watch cache's ring of recent events: bounded by age and count, replayed with the right types and
previous objects, and a watch from before the ring's start told to go to the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from edgeplane.apiserver.cacher import Cacher
from edgeplane.store import SQLiteStore

PREFIX = "/registry/configmaps/"


def cm(name: str, value: str, labels: dict[str, str] | None = None) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
                         "data": {"v": value}})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "data", retain_seconds=None, synchronous="NORMAL")
    yield opened
    await opened.close()


async def until(cacher: Cacher, revision: int) -> None:
    assert await cacher.wait_for_revision(revision, 5)


async def test_replay_from_the_ring_gives_types_objects_and_previous_versions(store: SQLiteStore) -> None:
    cacher = Cacher(store, PREFIX, namespaced=True)
    await cacher.start()
    try:
        start = cacher.revision
        a = await store.create(f"{PREFIX}default/a", cm("a", "1", {"app": "x"}))
        a2 = await store.update(f"{PREFIX}default/a", cm("a", "2", {"app": "y"}), a.mod_revision)
        gone = await store.delete(f"{PREFIX}default/a", a2.mod_revision)
        await until(cacher, gone.mod_revision)
        events = cacher.events_after(start)
        assert events is not None
        assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
        assert [e.revision for e in events] == [a.mod_revision, a2.mod_revision, gone.mod_revision]
        assert events[0].prev is None and events[0].obj["data"] == {"v": "1"}
        # A filtered watcher needs the version before each change to see the object leave its selector.
        assert events[1].prev is not None and events[1].prev["metadata"]["labels"] == {"app": "x"}
        assert events[1].obj["metadata"]["resourceVersion"] == str(a2.mod_revision)
        assert events[2].obj["data"] == {"v": "2"} and events[2].namespace == "default"
        assert cacher.events_after(a.mod_revision)[0].revision == a2.mod_revision  # type: ignore[index]
        assert cacher.events_after(gone.mod_revision) == []
    finally:
        await cacher.stop()


async def test_ring_keeps_only_recent_events_and_sends_older_watches_to_the_store(store: SQLiteStore) -> None:
    cacher = Cacher(store, PREFIX, namespaced=True, ring_seconds=0.3)
    await cacher.start()
    try:
        start = cacher.revision
        kv = await store.create(f"{PREFIX}default/lease", cm("lease", "0"))
        for i in range(1, 20):
            kv = await store.update(f"{PREFIX}default/lease", cm("lease", str(i)), kv.mod_revision)
        await until(cacher, kv.mod_revision)
        assert len(cacher.events_after(start) or []) == 20
        await asyncio.sleep(0.4)
        last = await store.update(f"{PREFIX}default/lease", cm("lease", "last"), kv.mod_revision)
        await until(cacher, last.mod_revision)
        # The renewals older than the window are gone; only the newest event is held.
        assert len(cacher.ring) == 1 and cacher.ring_start == kv.mod_revision
        assert cacher.events_after(start) is None  # too old for the ring: the caller reads the store
        assert [e.obj["data"]["v"] for e in cacher.events_after(kv.mod_revision) or []] == ["last"]
        assert cacher.objects[f"{PREFIX}default/lease"]["data"] == {"v": "last"}  # the current state stays
    finally:
        await cacher.stop()


async def test_ring_is_bounded_by_count_too(store: SQLiteStore) -> None:
    cacher = Cacher(store, PREFIX, namespaced=True, ring_size=5)
    await cacher.start()
    try:
        kv = await store.create(f"{PREFIX}default/c", cm("c", "0"))
        for i in range(1, 12):
            kv = await store.update(f"{PREFIX}default/c", cm("c", str(i)), kv.mod_revision)
        await until(cacher, kv.mod_revision)
        assert len(cacher.ring) == 5
        assert cacher.events_after(cacher.ring_start - 1) is None
        assert [e.obj["data"]["v"] for e in cacher.events_after(cacher.ring_start) or []] == [
            "7", "8", "9", "10", "11"]
    finally:
        await cacher.stop()
