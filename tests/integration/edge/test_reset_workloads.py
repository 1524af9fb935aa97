"""`edgeplane reset` ends the node's workloads — the process runtime's supervised containers, also ones whose
supervisor is gone, and the podman containers the node created — and leaves another node's on the same host
alone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.runtimes.interface import ContainerConfig
from edgeplane.edge.runtimes.podman import PodmanRuntime
from edgeplane.edge.runtimes.process import ProcessRuntime
from tests.conftest import require_binary
from tests.integration.edge.runtimes.test_runtime_podman import busybox_image
from tests.unit.edge.podfixtures import pod, put, sh


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a zombie left for init to reap counts as gone
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def node_dir(root: Path, name: str, runtime: str) -> Path:
    data = root / name
    data.mkdir()
    (data / "node.json").write_text(orjson.dumps({"server": "https://x:1", "nodeName": name,
                                                  "runtime": runtime}).decode())
    return data


def reset(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeplane.cli", "reset", "--data-dir", str(data), "--yes", *extra],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """PIDs of the test's container processes: killed at the end whatever happened."""
    found: list[int] = []
    yield found
    for pid in filter(alive, found):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def run_process_pod(data: Path, name: str, script: str, pids: list[int]) -> str:
    """A pod recorded in the node's metastore, its container started by the process runtime; its uid."""
    store = MetaStore(data / "metastore.db")
    try:
        obj = put(store, "pods", pod(name, sh("main", script)))
    finally:
        store.close()
    uid = obj["metadata"]["uid"]
    pid_file = data.parent / f"{name}.pid"  # the container records its own pid
    await ProcessRuntime(data).start(ContainerConfig(
        pod_uid=uid, pod_namespace="default", pod_name=name, name="main", image="",
        command=["sh", "-c", f"echo $$ > {pid_file}; {script}"], env={}))
    deadline = time.monotonic() + 5
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, f"pod {name} did not start"
        time.sleep(0.02)
    pids.append(int(pid_file.read_text()))
    return uid


async def test_reset_stops_this_nodes_process_pods_and_no_other_nodes(tmp_path: Path, pids: list[int]) -> None:
    a, b = node_dir(tmp_path, "node-a", "process"), node_dir(tmp_path, "node-b", "process")
    await run_process_pod(a, "web", "exec sleep 300", pids)
    await run_process_pod(b, "neighbour", "exec sleep 300", pids)

    done = reset(a)
    assert done.returncode == 0, done.stderr
    assert "stopping container main of pod default/web (process " in done.stdout
    assert "stopped 1 running container(s) (process runtime)" in done.stdout
    assert not alive(pids[0])
    assert alive(pids[1]), "the other node's pod must keep running"
    assert list(a.iterdir()) == []

    assert reset(b).returncode == 0
    assert not alive(pids[1])


async def test_reset_kills_what_ignores_sigterm_and_containers_whose_supervisor_is_gone(
        tmp_path: Path, pids: list[int]) -> None:
    data = node_dir(tmp_path, "node-c", "process")
    await run_process_pod(data, "stubborn", "trap '' TERM; while :; do sleep 0.1; done", pids)
    orphan_uid = await run_process_pod(data, "orphan", "exec sleep 300", pids)
    state = await ProcessRuntime(data).inspect(orphan_uid, "main")
    assert state is not None and state.running
    supervisor = next(int(p) for p in os.listdir("/proc") if p.isdigit() and orphan_uid.encode() in
                      Path(f"/proc/{p}/cmdline").read_bytes())
    os.kill(supervisor, signal.SIGKILL)  # the container keeps running, now without a supervisor
    (data / "node.json").unlink()  # and the identity is gone: reset still finds the containers

    started = time.monotonic()
    done = reset(data, "--grace-period", "0.5")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "stopping container main of pod default/stubborn" in done.stdout
    assert "of container main of pod default/orphan (its supervisor is gone)" in done.stdout
    assert not alive(pids[0]) and not alive(pids[1])
    assert took < 5, f"reset took {took:.1f}s with a 0.5 s grace period"


def test_reset_refuses_a_negative_grace_period(tmp_path: Path) -> None:
    done = reset(node_dir(tmp_path, "node-d", "process"), "--grace-period", "-1")
    assert done.returncode == 2
    assert "--grace-period" in done.stderr and "-1" in done.stderr
    assert (tmp_path / "node-d" / "node.json").exists()


async def test_reset_removes_this_nodes_podman_containers_and_no_other_nodes(tmp_path: Path) -> None:
    podman = require_binary("podman")
    require_binary("runc")
    image = busybox_image(podman)
    a, b = node_dir(tmp_path, "node-e", "podman"), node_dir(tmp_path, "node-f", "podman")
    runtimes = {data: PodmanRuntime(data, host_ip="192.0.2.10") for data in (a, b)}
    ids = {}
    try:
        for data, runtime in runtimes.items():
            state = await runtime.start(ContainerConfig(
                pod_uid=f"uid-{data.name}-{os.getpid()}", pod_namespace="default", pod_name=f"box-{data.name}",
                name="box", image=image, command=["sh", "-c", "exec sleep 300"], env={}))
            assert state.running
            ids[data] = state.id

        done = reset(a, "--grace-period", "0")
        assert done.returncode == 0, done.stderr
        assert f"removing podman container edgeplane-uid-node-e-{os.getpid()}-box-0 (running) of pod " \
               "default/box-node-e, container box" in done.stdout
        assert "stopped 1 running container(s) and removed 1 (podman runtime)" in done.stdout

        def exists(cid: str) -> bool:
            return subprocess.run([podman, "container", "exists", cid]).returncode == 0

        assert not exists(ids[a])
        assert exists(ids[b]), "the other node's container must stay"
    finally:
        for runtime in runtimes.values():
            for state in await runtime.list():
                if (runtime.pods_dir / state.pod_uid).is_dir():
                    await runtime.remove_pod(state.pod_uid)


def test_reset_refuses_while_the_agent_runs(tmp_path: Path) -> None:
    data = node_dir(tmp_path, "node-g", "process")
    MetaStore(data / "metastore.db").close()
    # Anything holding the metastore open stands in for the agent: reset must not pull the state from under it.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'rb'); "
                               "print('open', flush=True); time.sleep(60)", str(data / "metastore.db")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        done = reset(data)
        assert done.returncode == 1
        assert f"the agent of this node is running (process {holder.pid} has {data / 'metastore.db'} open)" \
               in done.stderr
        assert (data / "node.json").exists() and (data / "metastore.db").exists()
    finally:
        holder.kill()
        holder.wait()
    assert reset(data).returncode == 0
