from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeplane.store import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    # Automatic compaction off: tests that want it turn it on themselves. No fsync per commit: these
    # tests are about semantics (durability has its own kill -9 test), and fsync makes them slow on a
    # busy disk.
    opened = SQLiteStore(tmp_path / "data", retain_seconds=None, synchronous="NORMAL")
    yield opened
    await opened.close()
