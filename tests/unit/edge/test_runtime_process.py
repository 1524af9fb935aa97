"""The process runtime and its supervisor: detached processes, CRI logs with rotation, exit states, stop."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from edgeplane.edge.runtimes.interface import ContainerConfig, ContainerConfigError, Mount
from edgeplane.edge.runtimes.process import ProcessRuntime

CRI_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] ")


def config(argv: list[str], attempt: int = 0, **extra) -> ContainerConfig:
    return ContainerConfig("uid-1", "default", "p", "c", "img", argv, {"X": "1"}, attempt=attempt, **extra)


async def wait_exit(runtime: ProcessRuntime, uid: str = "uid-1", name: str = "c"):
    for _ in range(250):
        state = await runtime.inspect(uid, name)
        if state is not None and state.exited:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError("container did not exit")


async def test_supervisor_detaches_and_records_the_exit(tmp_path: Path):
    runtime = ProcessRuntime(tmp_path)
    await runtime.start(config(["sh", "-c", "echo out; echo err >&2; printf partial; exit 4"]))
    raw = runtime._read_state("uid-1", "c", 0)
    assert os.getsid(raw["supervisorPid"]) == raw["supervisorPid"]  # its own session: survives the agent
    done = await wait_exit(runtime)
    assert (done.exit_code, done.reason) == (4, "Error") and done.finished_at >= done.started_at
    lines = runtime.log_paths("uid-1", "c")[0].read_bytes().splitlines()
    assert all(CRI_LINE.match(line) for line in lines)
    assert sorted(line.split(b" ", 1)[1] for line in lines) == [
        b"stderr F err", b"stdout F out", b"stdout F partial"]


async def test_log_rotation_keeps_size_bounded(tmp_path: Path):
    runtime = ProcessRuntime(tmp_path, log_max_bytes=4096, log_files=2)
    await runtime.start(config(["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"]))
    await wait_exit(runtime)
    current = runtime.log_paths("uid-1", "c")[0]
    rotated = current.with_name(current.name + ".1")
    assert current.stat().st_size <= 4096 and rotated.stat().st_size <= 4096
    assert b"stdout F line-399" in current.read_bytes()
    assert not current.with_name(current.name + ".2").exists()


async def test_stop_escalates_and_previous_instance_is_kept(tmp_path: Path):
    runtime = ProcessRuntime(tmp_path)
    await runtime.start(config(["sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"]))
    await runtime.stop("uid-1", "c", 0.3)
    first = await runtime.inspect("uid-1", "c")
    assert first.exited and first.exit_code == 137  # SIGKILL after the grace period
    second = await runtime.start(config(["sleep", "30"], attempt=1))
    assert second.running and second.id != first.id
    assert (await runtime.previous("uid-1", "c")).id == first.id
    current, previous = runtime.log_paths("uid-1", "c")
    assert current.parent.name == "1" and previous.parent.name == "0"
    await runtime.remove_pod("uid-1")
    assert await runtime.list() == [] and not (tmp_path / "pods" / "uid-1").exists()


async def test_mounts_and_working_dir_live_under_the_container_root(tmp_path: Path):
    runtime = ProcessRuntime(tmp_path)
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "f").write_text("data")
    await runtime.start(config(["sh", "-c", "cat ../etc/v/f; pwd"], working_dir="/work",
                               mounts=[Mount(str(volume), "/etc/v")]))
    await wait_exit(runtime)
    log = runtime.log_paths("uid-1", "c")[0].read_text()
    assert "stdout F data" in log and log.rstrip().endswith("/rootfs/c/work")
    with pytest.raises(ContainerConfigError, match="leaves the container's root"):
        await runtime.start(config(["true"], attempt=1, mounts=[Mount(str(volume), "/../../etc")]))
    with pytest.raises(ContainerConfigError, match="has no command"):
        await runtime.start(config([], attempt=1))


async def test_exec_probe_uses_the_container_environment(tmp_path: Path):
    runtime = ProcessRuntime(tmp_path)
    await runtime.start(config(["sleep", "30"]))
    assert await runtime.exec_probe("uid-1", "c", ["sh", "-c", 'test "$X" = 1'], 2) == (0, "")
    with pytest.raises(TimeoutError):
        await runtime.exec_probe("uid-1", "c", ["sleep", "5"], 0.2)
    await runtime.remove_pod("uid-1")
