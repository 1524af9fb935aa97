"""Writing key material to disk without a moment where another user could read it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE = 0o600
PUBLIC = 0o644


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE) -> None:
    """Replace ``path`` with ``data`` in one step.

    The temporary file is created with ``mode`` (never wider), so a private key is 0600 from its first
    byte; readers see either the old file or the complete new one, never half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crashed earlier process that had our pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it further than asked; make it exact
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (0700) if missing; an existing directory's mode is left as the operator set it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
