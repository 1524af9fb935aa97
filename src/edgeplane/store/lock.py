"""An exclusive lock on a data directory, so two processes never write the same store.

Two writers would each hand out the same revisions; SQLite's own locking serialises their commits but
cannot keep one revision sequence. The lock is an flock on a file beside the database: the kernel
releases it when the holder exits, even by kill -9, so a crashed process never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from edgeplane.store.interface import StoreError


class DataDirLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{path}: the store is already open in another process") from None
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
