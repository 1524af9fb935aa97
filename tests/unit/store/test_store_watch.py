"""Watches: every change after a revision, once and in order, from the live stream, the ring of
recent events, or the history table; compaction, overflow and closing."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from edgeplane.store import (
    CompactedError,
    EventType,
    FutureRevisionError,
    KeyValue,
    SQLiteStore,
    WatchEvent,
    WatchOverflowError,
)
from edgeplane.store.watch import WatchHub


async def next_batch(watch) -> list[WatchEvent]:
    return await asyncio.wait_for(watch.__anext__(), 5)


async def collect(watch, upto: int) -> list[WatchEvent]:
    """Events from ``watch`` until one at revision ``upto`` arrives."""
    events: list[WatchEvent] = []
    while not events or events[-1].revision < upto:
        events += await next_batch(watch)
    return events


def shape(events: list[WatchEvent]) -> list[tuple]:
    return [(e.type, e.kv, e.prev) for e in events]


async def test_live_events_carry_kv_and_prev(store: SQLiteStore) -> None:
    watch = store.watch("/w/", store.revision)
    created = await store.create("/w/a", b"1")
    updated = await store.update("/w/a", b"2", created.mod_revision)
    deleted = await store.delete("/w/a")
    events = await collect(watch, deleted.mod_revision)
    assert shape(events) == [
        (EventType.PUT, created, None),
        (EventType.PUT, updated, created),
        (EventType.DELETE, KeyValue("/w/a", b"2", 1, 3), updated),
    ]
    assert events[0].created and not events[1].created and not events[2].created
    assert events[2].kv == deleted


async def test_watch_sees_only_its_prefix(store: SQLiteStore) -> None:
    watch = store.watch("/a/", 0)
    everything = store.watch("", 0)
    await store.create("/b/1", b"")
    await store.create("/a/1", b"")
    await store.create("/ab", b"")
    assert [e.kv.key for e in await collect(watch, 2)] == ["/a/1"]
    assert [e.kv.key for e in await collect(everything, 3)] == ["/b/1", "/a/1", "/ab"]


async def test_watchers_of_a_prefix_share_event_objects(store: SQLiteStore) -> None:
    first, second = store.watch("/s/", 0), store.watch("/s/", 0)
    await store.create("/s/1", b"")
    one, two = await next_batch(first), await next_batch(second)
    assert one[0] is two[0]


async def test_watch_from_recent_past_is_served_from_memory(store: SQLiteStore) -> None:
    live = store.watch("/p/", 0)
    for i in range(20):
        await store.create(f"/p/{i}", str(i).encode())
    expected = await collect(live, 20)

    async def no_database(*args):
        raise AssertionError("a recent start must not read the history table")

    store._hub.read_history = no_database
    late = store.watch("/p/", 12)
    got = await collect(late, 20)
    assert [e.revision for e in got] == list(range(13, 21))
    assert all(a is b for a, b in zip(got, expected[12:], strict=True))


@pytest.mark.parametrize("page", [3, 1000])
async def test_watch_from_older_past_reads_history(tmp_path: Path, page: int) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, watch_cache_size=4, history_page=page)
    try:
        live = store.watch("/h/", 0)
        kvs = {}
        for i in range(30):
            key = f"/h/{i % 7}"
            if key not in kvs:
                kvs[key] = await store.create(key, b"0")
            elif i % 5 == 0:
                del kvs[key]
                await store.delete(key)
            else:
                kvs[key] = await store.update(key, str(i).encode(), kvs[key].mod_revision)
            await store.create(f"/other/{i}", b"")  # interleaved, outside the prefix
        expected = await collect(live, max(e.mod_revision for e in kvs.values()))
        late = store.watch("/h/", 5)
        got = await collect(late, expected[-1].revision)
        assert shape(got) == shape([e for e in expected if e.revision > 5])
        # History events are fresh objects; the live ones went to the live watcher.
        assert got[-1] is not expected[-1]
    finally:
        await store.close()


async def test_catch_up_then_live_without_gap_or_duplicate(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, watch_cache_size=2, history_page=4)
    try:
        for i in range(20):
            await store.create(f"/g/{i}", b"")
        watch = store.watch("/g/", 1)  # must read history for 2..20
        for i in range(20, 30):
            await store.create(f"/g/{i}", b"")  # queued live behind the catch-up
        got = await collect(watch, 30)
        assert [e.revision for e in got] == list(range(2, 31))
    finally:
        await store.close()


async def test_watch_from_compacted_revision_fails(store: SQLiteStore) -> None:
    for i in range(10):
        await store.create(f"/c/{i}", b"")
    await store.compact(6)
    with pytest.raises(CompactedError) as info:
        store.watch("/c/", 5)
    assert (info.value.requested, info.value.compacted) == (5, 6)
    got = await collect(store.watch("/c/", 6), 10)
    assert [e.revision for e in got] == [7, 8, 9, 10]


async def test_compaction_after_watch_creation_fails_first_iteration(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, watch_cache_size=2)
    try:
        for i in range(10):
            await store.create(f"/c/{i}", b"")
        watch = store.watch("/c/", 2)  # needs history
        await store.compact(8)
        with pytest.raises(CompactedError):
            await next_batch(watch)
        with pytest.raises(StopAsyncIteration):
            await next_batch(watch)
    finally:
        await store.close()


async def test_watch_from_future_revision_fails(store: SQLiteStore) -> None:
    await store.create("/k", b"")
    with pytest.raises(FutureRevisionError):
        store.watch("/", 2)
    store.watch("/", 1)  # the current revision is fine


async def test_slow_watcher_is_ended_without_holding_back_others(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, watch_queue_limit=10)
    try:
        slow = store.watch("/o/", 0)
        fast = store.watch("/o/", 0)
        await store.create("/o/first", b"")
        assert [e.revision for e in await next_batch(slow)] == [1]
        received: list[int] = []
        for i in range(30):
            await store.create(f"/o/{i}", b"")
            received += [e.revision for e in await next_batch(fast)]
        assert received == list(range(1, 32))
        with pytest.raises(WatchOverflowError) as info:
            await next_batch(slow)
        assert info.value.revision == 1  # the last revision it received: resume from there
        with pytest.raises(StopAsyncIteration):
            await next_batch(slow)
        resumed = await collect(store.watch("/o/", info.value.revision), 31)
        assert [e.revision for e in resumed] == list(range(2, 32))
        assert store.watcher_count == 2  # fast and resumed; slow was dropped
    finally:
        await store.close()


async def test_close_ends_a_pending_iteration(store: SQLiteStore) -> None:
    watch = store.watch("/", 0)
    waiting = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    watch.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1)
    assert store.watcher_count == 0


async def test_store_close_ends_watches_after_queued_events(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None)
    watch = store.watch("/", 0)
    await store.create("/k", b"")
    await store.close()
    assert [e.revision async for batch in watch for e in batch] == [1]


def test_hub_skips_events_a_watch_started_after() -> None:
    # A watch may start at a revision committed but not yet published (the batch is in flight).
    def event(rev: int) -> WatchEvent:
        return WatchEvent(EventType.PUT, KeyValue(f"/k{rev}", b"", rev, rev))

    hub = WatchHub(5, None, ring_size=10, queue_limit=100, history_page=10)  # type: ignore[arg-type]
    watch = hub.open("/", 7, committed=8, compacted=0)
    hub.publish([event(6), event(7), event(8)])
    hub.publish([event(9)])
    assert [b[0].revision for b in watch._pending] == [8, 9]


@pytest.mark.parametrize("ring", [10_000, 50], ids=["from-ring", "from-history"])
async def test_watch_during_concurrent_load_sees_each_change_once_in_order(tmp_path: Path, ring: int) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, watch_cache_size=ring, history_page=500)
    writers, per_writer = 50, 200
    acked: dict[int, KeyValue] = {}
    kinds: dict[int, EventType] = {}
    warmed_up = asyncio.Event()

    async def writer(n: int) -> None:
        rng = random.Random(n)
        current: dict[str, KeyValue] = {}
        for i in range(per_writer):
            key = f"/load/{n}/{rng.randrange(8)}"
            if key not in current:
                kv = current[key] = await store.create(key, f"{n}-{i}".encode())
                kinds[kv.mod_revision] = EventType.PUT
            elif rng.random() < 0.2:
                kv = await store.delete(key, current.pop(key).mod_revision)
                kinds[kv.mod_revision] = EventType.DELETE
            else:
                kv = current[key] = await store.update(key, f"{n}-{i}".encode(), current[key].mod_revision)
                kinds[kv.mod_revision] = EventType.PUT
            acked[kv.mod_revision] = kv
            if len(acked) >= 2000:
                warmed_up.set()

    try:
        load = asyncio.gather(*(writer(n) for n in range(writers)))
        await warmed_up.wait()
        start = store.revision - 1500
        watch = store.watch("/load/", start)
        seen: list[WatchEvent] = []

        async def consume() -> None:
            async for batch in watch:
                seen.extend(batch)
                if seen[-1].revision == writers * per_writer:
                    return

        consumer = asyncio.ensure_future(consume())
        await load
        await asyncio.wait_for(consumer, 20)
        expected = sorted(rev for rev in acked if rev > start)
        assert len(acked) == writers * per_writer
        assert [e.revision for e in seen] == expected  # each once, in order, none missing
        assert all(e.kv == acked[e.revision] and e.type is kinds[e.revision] for e in seen)
    finally:
        await store.close()


async def test_ring_shares_each_previous_value_with_the_event_that_wrote_it(store: SQLiteStore) -> None:
    first = await store.create("/lease", b"v1")
    second = await store.update("/lease", b"v2", first.mod_revision)
    await store.update("/lease", b"v3", second.mod_revision)
    ring = store._hub._ring
    assert [e.kv.value for e in ring[-3:]] == [b"v1", b"v2", b"v3"]
    # The writer read the old value back from the database; the ring keeps one copy of it.
    assert ring[-2].prev is ring[-3].kv and ring[-1].prev is ring[-2].kv
    watch = store.watch("/lease", first.mod_revision)  # served from the ring, previous values intact
    assert [(e.kv.value, e.prev.value if e.prev else None) for e in await next_batch(watch)] == [
        (b"v2", b"v1"), (b"v3", b"v2")]
    watch.close()


async def test_ring_keeps_recent_events_only_and_older_watches_read_history(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None, synchronous="NORMAL")
    try:
        store._hub._ring_seconds = 0.2
        kv = await store.create("/renewed", b"0")
        for i in range(1, 30):
            kv = await store.update("/renewed", str(i).encode(), kv.mod_revision)
        assert len(store._hub._ring) == 30
        await asyncio.sleep(1.1)  # past the window, and past the once-a-second bulk trim
        kv = await store.update("/renewed", b"last", kv.mod_revision)
        assert [e.kv.value for e in store._hub._ring] == [b"last"]
        assert len(store._hub._latest) == 1
        # A watch from before the ring reads the history table instead, and still sees every change.
        watch = store.watch("/renewed", 0)
        assert [e.kv.value for e in await collect(watch, kv.mod_revision)] == [
            *(str(i).encode() for i in range(30)), b"last"]
        watch.close()
    finally:
        await store.close()
