"""Writes to a store as fast as it can until killed, printing every acknowledged write.

Usage: store_crash_writer.py DATA_DIR SYNCHRONOUS
Each line is "KEY VERSION REVISION", printed only after the store acknowledged the write. Values are
derived from key and version (see value_for) so a reader can tell a whole value from a torn one.
"""

from __future__ import annotations

import asyncio
import sys

from edgeplane.store import KeyValue, open_store

WORKERS = 8
KEYS_PER_WORKER = 25


def value_for(key: str, version: int) -> bytes:
    # Lengths vary from a few bytes to several KiB, so records straddle WAL pages.
    return f"{key}#{version}|".encode() * (1 + (version * 37) % 300)


async def main(data_dir: str, synchronous: str) -> None:
    store = open_store(data_dir, synchronous=synchronous, retain_seconds=None)
    out = sys.stdout

    async def worker(n: int) -> None:
        current: dict[str, KeyValue] = {}
        versions: dict[str, int] = {}
        i = 0
        while True:
            key = f"/crash/{n}/{i % KEYS_PER_WORKER}"
            i += 1
            version = versions.get(key, -1) + 1
            if key in current:
                kv = await store.update(key, value_for(key, version), current[key].mod_revision)
            else:
                kv = await store.create(key, value_for(key, version))
            current[key] = kv
            versions[key] = version
            out.write(f"{key} {version} {kv.mod_revision}\n")
            out.flush()

    await asyncio.gather(*(worker(n) for n in range(WORKERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
