"""The suite's session guard: a test session that leaves a pod running fails in CI, and the pod is ended.

Each case runs a small inner pytest session with the suite's conftest, under its own base temporary
directory, whose one test starts a process-runtime container and does not stop it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeplane.edge.runtimes import sweep

ROOT = Path(__file__).resolve().parents[2]
LEAKY_TEST = '''
from edgeplane.edge.runtimes.interface import ContainerConfig
from edgeplane.edge.runtimes.process import ProcessRuntime


async def test_leaves_a_pod_running(tmp_path):
    state = await ProcessRuntime(tmp_path / "edge").start(ContainerConfig(
        pod_uid="uid-leak", pod_namespace="default", pod_name="leak", name="main", image="",
        command=["sleep", "300"], env={}))
    assert state.running
'''


def inner_session(tmp_path: Path, ci: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    basetemp = tmp_path / "inner"
    env = {**os.environ, "CI": ci}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), "--basetemp", str(basetemp),
         str(tmp_path / "test_leaky.py")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    return done, basetemp


def no_leftovers(basetemp: Path) -> bool:
    deadline = time.monotonic() + 5
    while sweep.processes_under(basetemp):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(("ci", "exit_code"), [("true", 1), ("", 0)], ids=["ci-fails", "local-warns"])
def test_a_leaked_pod_is_reported_and_ended(tmp_path: Path, ci: str, exit_code: int) -> None:
    done, basetemp = inner_session(tmp_path, ci)
    out = done.stdout + done.stderr
    assert done.returncode == exit_code, out
    assert "tests left pods running" in out
    assert "supervisor" in out and "container main (pod uid uid-leak)" in out
    assert no_leftovers(basetemp), "the guard must end what it reports"
