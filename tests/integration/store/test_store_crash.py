"""An acknowledged write survives kill -9 of the writing process, whole, and nothing half-written
appears."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from edgeplane.store import SQLiteStore, open_store

HELPER = Path(__file__).with_name("store_crash_writer.py")
sys.path.insert(0, str(HELPER.parent))
from store_crash_writer import value_for  # noqa: E402

ACKS_BEFORE_KILL = 3000


async def run_and_kill(data_dir: Path, synchronous: str) -> list[tuple[str, int, int]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HELPER), str(data_dir), synchronous, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    chunks: list[bytes] = []
    async with asyncio.timeout(30):
        while len(chunks) < ACKS_BEFORE_KILL:
            line = await proc.stdout.readline()
            assert line, f"writer exited early with {await proc.wait()}"
            chunks.append(line)
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: it writes until it dies
        chunks.append(await proc.stdout.read())  # acknowledgements printed before the kill
        assert await proc.wait() == -signal.SIGKILL
    lines = b"".join(chunks).decode().split("\n")[:-1]  # drop a torn, unterminated last line
    acks = []
    for line in lines:
        key, version, revision = line.split()
        acks.append((key, int(version), int(revision)))
    assert len(acks) >= ACKS_BEFORE_KILL
    return acks


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, synchronous: str) -> None:
    acks = await run_and_kill(tmp_path, synchronous)

    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    store = open_store(tmp_path, retain_seconds=None)
    assert isinstance(store, SQLiteStore)
    try:
        last = max(revision for _, _, revision in acks)
        assert store.revision >= last  # writes committed after the last printed ack may also be there
        created = {key: revision for key, version, revision in acks if version == 0}
        for key, version, revision in acks:
            kv = await store.get(key, revision=revision)
            assert kv is not None, f"acknowledged {key} at {revision} is missing"
            assert kv.mod_revision == revision and kv.value == value_for(key, version)
            assert kv.create_revision == created[key]
        # Everything present is whole: each current value is exactly some version's value, and the
        # history holds one row per revision, without gaps.
        for kv in (await store.range("/crash/")).kvs:
            version = int(kv.value.split(b"|", 1)[0].rsplit(b"#", 1)[1])
            assert kv.value == value_for(kv.key, version)
        history = sqlite3.connect(tmp_path / "state.db")
        assert history.execute("SELECT count(*), max(rev) FROM history").fetchone() == (
            store.revision,
            store.revision,
        )
        history.close()
        # And the store carries on from where it stopped.
        kv = await store.create("/after-crash", b"")
        assert kv.mod_revision == store.revision
    finally:
        await store.close()
