from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeplane.store import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    # Automatic compaction off: tests that want it turn it on themselves.
    opened = SQLiteStore(tmp_path / "data", retain_seconds=None)
    yield opened
    await opened.close()
