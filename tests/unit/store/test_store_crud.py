"""Create / update / delete with compare-and-swap, reads at past revisions, pagination, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from edgeplane.store import (
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
    SQLiteStore,
    StoreError,
    open_store,
)


async def test_create_assigns_increasing_revisions(store: SQLiteStore) -> None:
    a = await store.create("/pods/a", b"1")
    b = await store.create("/pods/b", b"2")
    assert a == KeyValue("/pods/a", b"1", 1, 1)
    assert b == KeyValue("/pods/b", b"2", 2, 2)
    assert store.revision == 2
    assert await store.get("/pods/a") == a


async def test_create_existing_key_fails_and_takes_no_revision(store: SQLiteStore) -> None:
    await store.create("/k", b"1")
    with pytest.raises(KeyExistsError) as info:
        await store.create("/k", b"2")
    assert info.value.key == "/k"
    assert store.revision == 1
    assert (await store.get("/k")).value == b"1"


async def test_update_is_guarded_by_mod_revision(store: SQLiteStore) -> None:
    created = await store.create("/k", b"1")
    updated = await store.update("/k", b"2", created.mod_revision)
    assert updated == KeyValue("/k", b"2", created.create_revision, 2)
    with pytest.raises(RevisionConflictError) as info:
        await store.update("/k", b"3", created.mod_revision)  # stale
    assert info.value.expected == 1
    assert info.value.current == updated
    assert "revision 2, not 1" in str(info.value)
    assert (await store.get("/k")).value == b"2"


async def test_update_with_expected_zero_is_unconditional(store: SQLiteStore) -> None:
    await store.create("/k", b"1")
    await store.update("/k", b"2", 0)
    kv = await store.update("/k", b"3", 0)
    assert kv.value == b"3" and kv.mod_revision == 3 and kv.create_revision == 1


async def test_update_and_delete_of_missing_key_fail(store: SQLiteStore) -> None:
    with pytest.raises(KeyNotFoundError):
        await store.update("/missing", b"x", 0)
    with pytest.raises(KeyNotFoundError):
        await store.delete("/missing")
    assert store.revision == 0


async def test_delete_returns_last_value_at_deletion_revision(store: SQLiteStore) -> None:
    created = await store.create("/k", b"v")
    with pytest.raises(RevisionConflictError):
        await store.delete("/k", expected_revision=99)
    deleted = await store.delete("/k", expected_revision=created.mod_revision)
    assert deleted == KeyValue("/k", b"v", 1, 2)
    assert await store.get("/k") is None
    # A key created again starts a new life.
    again = await store.create("/k", b"w")
    assert again.create_revision == again.mod_revision == 3


async def test_one_failed_cas_does_not_fail_its_batch(store: SQLiteStore) -> None:
    keys = [f"/batch/{i}" for i in range(40)]
    created = await asyncio.gather(*(store.create(k, b"0") for k in keys))
    commits_before = store.commit_count
    # Every odd request carries a stale revision; all are submitted at once, so they share commits.
    requests = [
        store.update(kv.key, b"1", kv.mod_revision if i % 2 == 0 else kv.mod_revision + 1000)
        for i, kv in enumerate(created)
    ]
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert store.commit_count - commits_before < len(requests) // 2  # they were grouped
    for i, result in enumerate(results):
        if i % 2 == 0:
            assert isinstance(result, KeyValue) and result.value == b"1"
        else:
            assert isinstance(result, RevisionConflictError)
    values = {kv.key: kv.value for kv in (await store.range("/batch/")).kvs}
    assert values == {k: b"1" if i % 2 == 0 else b"0" for i, k in enumerate(keys)}
    # Revisions stay dense: the failed requests took none.
    assert store.revision == len(keys) + len(keys) // 2


async def test_get_and_range_at_past_revisions(store: SQLiteStore) -> None:
    a1 = await store.create("/r/a", b"a1")  # 1
    await store.create("/r/b", b"b1")  # 2
    await store.update("/r/a", b"a2", a1.mod_revision)  # 3
    await store.delete("/r/b")  # 4
    await store.create("/r/c", b"c1")  # 5
    await store.create("/other", b"x")  # 6

    assert (await store.get("/r/a", revision=1)).value == b"a1"
    assert (await store.get("/r/a", revision=2)).value == b"a1"
    assert (await store.get("/r/a", revision=3)).value == b"a2"
    assert await store.get("/r/b", revision=1) is None
    assert (await store.get("/r/b", revision=3)).value == b"b1"
    assert await store.get("/r/b", revision=4) is None

    def listing(result):
        return [(kv.key, kv.value, kv.create_revision, kv.mod_revision) for kv in result.kvs]

    at3 = await store.range("/r/", revision=3)
    assert at3.revision == 3
    assert listing(at3) == [("/r/a", b"a2", 1, 3), ("/r/b", b"b1", 2, 2)]
    at5 = await store.range("/r/", revision=5)
    assert listing(at5) == [("/r/a", b"a2", 1, 3), ("/r/c", b"c1", 5, 5)]
    now = await store.range("/r/")
    assert now.revision == 6 and listing(now) == listing(at5)
    assert listing(await store.range("/r/", revision=6)) == listing(at5)


async def test_reads_beyond_current_revision_fail(store: SQLiteStore) -> None:
    await store.create("/k", b"v")
    with pytest.raises(FutureRevisionError) as info:
        await store.get("/k", revision=2)
    assert (info.value.requested, info.value.current) == (2, 1)
    with pytest.raises(FutureRevisionError):
        await store.range("/", revision=5)


async def test_range_pagination(store: SQLiteStore) -> None:
    keys = [f"/page/{i:03d}" for i in range(25)]
    for key in keys:
        await store.create(key, key.encode())
    await store.create("/pagf", b"outside")  # sorts right after the prefix range

    seen: list[str] = []
    start_after = None
    pages = 0
    while True:
        result = await store.range("/page/", start_after=start_after, limit=10)
        seen += [kv.key for kv in result.kvs]
        pages += 1
        if not result.more:
            break
        start_after = result.kvs[-1].key
    assert seen == keys
    assert pages == 3
    exact = await store.range("/page/", limit=25)
    assert len(exact.kvs) == 25 and not exact.more


async def test_range_pagination_at_past_revision(store: SQLiteStore) -> None:
    for i in range(6):
        await store.create(f"/p/{i}", b"old")
    snapshot = store.revision
    await store.delete("/p/1")
    await store.create("/p/9", b"new")
    first = await store.range("/p/", revision=snapshot, limit=4)
    assert [kv.key for kv in first.kvs] == ["/p/0", "/p/1", "/p/2", "/p/3"] and first.more
    rest = await store.range("/p/", revision=snapshot, start_after="/p/3", limit=4)
    assert [kv.key for kv in rest.kvs] == ["/p/4", "/p/5"] and not rest.more


async def test_prefix_bounds_are_exact(store: SQLiteStore) -> None:
    for key in ["/a", "/a/", "/a/x", "/a/\U0010ffff", "/a/\U0010ffffz", "/a0", "/b", "/a/é"]:
        await store.create(key, b"")
    assert [kv.key for kv in (await store.range("/a/")).kvs] == [
        "/a/", "/a/x", "/a/é", "/a/\U0010ffff", "/a/\U0010ffffz",
    ]  # fmt: skip
    assert await store.count("/a/") == 5
    assert await store.count("/a") == 7
    assert await store.count("") == 8
    assert await store.count("/zzz") == 0


async def test_count_follows_deletes(store: SQLiteStore) -> None:
    for i in range(5):
        await store.create(f"/c/{i}", b"")
    await store.delete("/c/2")
    assert await store.count("/c/") == 4


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.create("", b"v"), ValueError, "key must not be empty"),
        (lambda s: s.create(b"/k", b"v"), TypeError, "key must be a str, not bytes"),
        (lambda s: s.create("/k", "text"), TypeError, "value must be bytes, not str"),
        (lambda s: s.create("/k\x00", b"v"), ValueError, "NUL"),
        (lambda s: s.create("/k\ud800", b"v"), ValueError, "not valid Unicode at index 2"),
        (lambda s: s.update("/k", b"v", -1), ValueError, "expected_revision must be >= 0, got -1"),
        (lambda s: s.delete("/k", "3"), TypeError, "expected_revision must be an int"),
        (lambda s: s.get("/k", revision=True), TypeError, "revision must be an int, not bool"),
        (lambda s: s.range("/", limit=-5), ValueError, "limit must be >= 0"),
        (lambda s: s.range(None), TypeError, "prefix must be a str"),
        (lambda s: s.compact(0), ValueError, "must be >= 1"),
    ],
)
async def test_bad_arguments_are_rejected_clearly(store: SQLiteStore, call, error, message) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        await call(store)
    assert store.revision == 0


async def test_bytearray_values_are_stored_as_bytes(store: SQLiteStore) -> None:
    kv = await store.create("/k", bytearray(b"abc"))
    assert type(kv.value) is bytes and (await store.get("/k")).value == b"abc"


async def test_revision_survives_restart(tmp_path: Path) -> None:
    first = open_store(tmp_path, retain_seconds=None)
    a = await first.create("/k", b"1")
    await first.update("/k", b"2", a.mod_revision)
    await first.delete("/k")
    await first.close()

    second = open_store(tmp_path, retain_seconds=None)
    try:
        assert second.revision == 3
        kv = await second.create("/k", b"3")
        assert kv.mod_revision == 4
        assert (await second.get("/k", revision=2)).value == b"2"
    finally:
        await second.close()


async def test_store_lives_in_one_wal_file(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d", retain_seconds=None)
    await store.create("/k", b"v")
    await store.close()
    conn = sqlite3.connect(tmp_path / "d" / "state.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_data_dir_is_locked_while_open(tmp_path: Path) -> None:
    first = open_store(tmp_path, retain_seconds=None)
    with pytest.raises(StoreError, match="already open in another process"):
        open_store(tmp_path)
    await first.close()
    second = open_store(tmp_path, retain_seconds=None)  # released on close
    await second.close()


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = open_store(tmp_path, retain_seconds=None)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="is closed"):
        await store.create("/k", b"v")
    with pytest.raises(StoreError, match="is closed"):
        await store.get("/k")


async def test_writes_queued_before_close_complete(tmp_path: Path) -> None:
    store = open_store(tmp_path, retain_seconds=None)
    writes = [asyncio.ensure_future(store.create(f"/k/{i}", b"v")) for i in range(200)]
    await asyncio.sleep(0)  # let every write reach the queue
    await store.close()
    assert all(w.done() and not w.cancelled() for w in writes)
    assert sorted(w.result().mod_revision for w in writes) == list(range(1, 201))


async def test_unknown_or_bad_options_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        open_store(tmp_path, colour="blue")
    with pytest.raises(ValueError, match="max_batch must be a positive number, got 0"):
        open_store(tmp_path, max_batch=0)
    with pytest.raises(ValueError, match="synchronous must be one of FULL, NORMAL"):
        open_store(tmp_path, synchronous="OFF")
    with pytest.raises(ValueError, match="retain_revisions must be >= 1"):
        open_store(tmp_path, retain_revisions=0)
    await open_store(tmp_path, retain_seconds=None).close()  # nothing was left locked or half-open


async def test_range_of_ten_thousand_keys_is_fast(store: SQLiteStore) -> None:
    await asyncio.gather(*(store.create(f"/many/{i:05d}", b"x" * 64) for i in range(10_000)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await store.range("/many/")
    elapsed = loop.time() - started
    assert len(result.kvs) == 10_000
    assert elapsed < 0.5  # typically ~15 ms; generous for a loaded CI machine


async def test_a_failing_writer_fails_requests_instead_of_hanging(tmp_path: Path, caplog) -> None:
    store = SQLiteStore(tmp_path, retain_seconds=None)
    writer = store._writer

    def broken(batch, compact):
        raise SystemError("simulated bug")

    writer._commit = broken  # the thread looks the method up on every batch
    with pytest.raises(StoreError, match="writer has stopped: SystemError"):
        await asyncio.wait_for(store.create("/k", b"v"), 5)
    with pytest.raises(StoreError, match="writer has stopped"):
        await store.create("/k2", b"v")
    assert "writer thread failed" in caplog.text
    await store.close()


async def test_sqlite_failure_of_one_request_fails_only_that_request(store: SQLiteStore) -> None:
    # Lower SQLite's blob limit so one value is refused by SQLite itself, mid-transaction.
    store._writer._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000)
    values = [b"small"] * 10 + [b"x" * 20_000] + [b"small"] * 10
    results = await asyncio.gather(
        *(store.create(f"/f/{i}", v) for i, v in enumerate(values)), return_exceptions=True
    )
    failed = results.pop(10)
    assert isinstance(failed, StoreError) and "write of key '/f/10' failed" in str(failed)
    assert sorted(kv.mod_revision for kv in results) == list(range(1, 21))
    assert await store.count("/f/") == 20 and await store.get("/f/10") is None
