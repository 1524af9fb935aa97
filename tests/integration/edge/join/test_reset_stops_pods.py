"""`edgeplane reset` stops the processes the process runtime supervises (they outlive the agent, not a reset)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from edgeplane.edge.runtimes.interface import ContainerConfig
from edgeplane.edge.runtimes.process import ProcessRuntime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie left for init to reap counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


async def test_reset_stops_running_process_pods(tmp_path: Path) -> None:
    data = tmp_path / "edge"
    data.mkdir()
    (data / "node.json").write_text(orjson.dumps({"server": "https://x:1", "nodeName": "n1",
                                                  "runtime": "process"}).decode())
    runtime = ProcessRuntime(data)
    pid_file = tmp_path / "sleeper.pid"  # the pod records its own pid: no dependence on the runtime's files
    state = await runtime.start(ContainerConfig(
        pod_uid="uid-1", pod_namespace="default", pod_name="sleeper", name="main", image="",
        command=["sh", "-c", f"echo $$ > {pid_file}; exec sleep 300"], env={}))
    assert state.running
    deadline = time.monotonic() + 5
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pids = [int(pid_file.read_text())]

    try:
        result = subprocess.run([sys.executable, "-m", "edgeplane.cli", "reset", "--data-dir", str(data), "--yes"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "stopped 1 running container(s) (process runtime)" in result.stdout
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), f"still running: {pids}"
        assert list(data.iterdir()) == []
    finally:
        for pid in filter(_alive, pids):  # never leave the sleeper behind when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
