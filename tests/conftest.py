"""Fixtures shared by the whole suite: real components, started on loopback with free ports."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str) -> str:
    """The path of a real component's binary. Missing in CI is a failure; elsewhere the test is skipped."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is required for this test and is not installed (make test installs it)")
    pytest.skip(f"{name} is not installed")
