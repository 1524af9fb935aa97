"""Fixtures shared by the whole suite: real components, started on loopback with free ports."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator

import pytest

from edgeplane.edge.runtimes import sweep

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_binary(name: str) -> str:
    """The path of a real component's binary. Missing in CI is a failure; elsewhere the test is skipped."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is required for this test and is not installed (make test installs it)")
    pytest.skip(f"{name} is not installed")


@pytest.fixture(scope="session", autouse=True)
def no_workloads_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session: ends the pods its tests left running (process-runtime supervisors and their
    processes, podman containers) and says which; in CI that fails the run, so leaks cannot come back.

    Only what lives under this session's base temporary directory counts: other test runs on the machine
    have their own."""
    yield
    root = tmp_path_factory.getbasetemp()
    procs = sweep.processes_under(root)
    left = [p.describe() for p in procs]
    sweep.end_processes(procs, 0)
    if binary := shutil.which("podman"):
        podman = sweep.podman_command(binary)
        containers = sweep.podman_containers_under(root, podman)
        left += [c.describe() for c in containers]
        sweep.remove_podman_containers(containers, podman, 0)
    if left:
        message = ("tests left pods running (now ended; a test must stop its pods in a finalizer, e.g. "
                   "EdgeNode as a context manager):\n  " + "\n  ".join(left))
        if IN_CI:
            pytest.fail(message, pytrace=False)
        warnings.warn(message, stacklevel=1)
