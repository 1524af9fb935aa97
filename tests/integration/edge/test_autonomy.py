"""Edge autonomy end to end: cloud and edge agent as separate OS processes, pods as real processes, and the
network between them cut by a TCP proxy.

The offline period is EDGEPLANE_E2E_OFFLINE_SECONDS (default 20 s here; the issue's two-minute run is the
``offline`` scenario of bench/bench_edge_hub.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeplane.edge.runtimes import sweep
from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud, kubectl_env
from tests.integration.edge.edgeproc import EdgeNode, create_token, wait_for
from tests.integration.netproxy import TCPProxy

OFFLINE_SECONDS = float(os.environ.get("EDGEPLANE_E2E_OFFLINE_SECONDS", "20"))


class Kubectl:
    def __init__(self, cloud: Cloud) -> None:
        self.binary = require_binary("kubectl")
        self.env = kubectl_env(cloud)

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True, timeout=60,
                              env=self.env)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json"))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("autonomy") / "data").start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def kubectl(cloud: Cloud) -> Kubectl:
    return Kubectl(cloud)


@pytest.fixture
def proxy(cloud: Cloud) -> Iterator[TCPProxy]:
    p = TCPProxy("127.0.0.1", cloud.port).start()
    yield p
    p.stop()


@pytest.fixture
def pids(tmp_path: Path) -> Path:
    """Where the test pods record their PIDs."""
    path = tmp_path / "pids"
    path.mkdir()
    return path


@pytest.fixture
def edge(cloud: Cloud, proxy: TCPProxy, tmp_path: Path, pids: Path,
         request: pytest.FixtureRequest) -> Iterator[EdgeNode]:
    name = "auto-" + request.node.name.removeprefix("test_").replace("_", "-")[:30].strip("-")
    with EdgeNode(tmp_path / "edge", f"https://127.0.0.1:{proxy.port}", name) as node:
        node.join(create_token(cloud))
        yield node
    # Pods outlive their agent by design; a test must not leave them behind.
    for pid_file in pids.iterdir():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (ValueError, OSError):
            pass


def pid_writer(name: str, pids: Path) -> dict[str, Any]:
    """A container that records its PID (the same process after ``exec``) and then just runs.

    ``$$$$`` because Kubernetes turns ``$$`` in a command into ``$`` (its escape for ``$(VAR)`` expansion).
    """
    return {"name": name, "image": "busybox",
            "command": ["sh", "-c", f'echo $$$$ > {pids}/"$POD_NAME"; exec sleep 100000'],
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}


def node_ready(kubectl: Kubectl, node: str) -> bool:
    obj = kubectl.json("node", node)
    conditions = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
    return conditions.get("Ready") == "True"


def test_deployment_pods_run_as_processes_on_a_joined_node(kubectl: Kubectl, edge: EdgeNode, pids: Path) -> None:
    wait_for(lambda: node_ready(kubectl, edge.node_name), 30, f"node Ready\n{edge.log()}")
    node = kubectl.json("node", edge.node_name)
    assert int(node["status"]["capacity"]["pods"]) > 0 and node["status"]["capacity"]["cpu"]
    assert edge.node_name in kubectl("get", "nodes")
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": edge.node_name},
                                       "containers": [pid_writer("web", pids)]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(deployment))

    def running() -> list[dict[str, Any]]:
        pods = kubectl.json("pods", "-l", "app=web")["items"]
        ok = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
              and p["spec"].get("nodeName") == edge.node_name]
        return ok if len(ok) == 2 else []

    pods = wait_for(running, 30, f"2 Running pods\n{edge.log()}")
    wide = kubectl("get", "pods", "-l", "app=web", "-o", "wide")
    for p in pods:
        assert p["status"].get("podIP"), f"no pod IP: {p['status']}"
        line = next(line for line in wide.splitlines() if line.startswith(p["metadata"]["name"]))
        assert "Running" in line and p["status"]["podIP"] in line and edge.node_name in line
        pid = int(wait_for(lambda name=p["metadata"]["name"]: (pids / name).read_text(), 5, "the pid file"))
        os.kill(pid, 0)  # a real process on this machine
    kubectl("delete", "deployment", "web")


def test_offline_autonomy_and_reconciliation(kubectl: Kubectl, proxy: TCPProxy, edge: EdgeNode, pids: Path) -> None:
    wait_for(lambda: node_ready(kubectl, edge.node_name), 30, f"node Ready\n{edge.log()}")
    names = ["crashy", "deleted", "steady1", "steady2"]
    for name in names:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"nodeName": edge.node_name, "containers": [pid_writer("main", pids)]}}
        kubectl("apply", "-f", "-", input=json.dumps(pod))
    wait_for(lambda: all((pids / n).exists() for n in names), 30, f"every pod started\n{edge.log()}")
    wait_for(lambda: all(_phase(kubectl, n) == "Running" for n in names), 15, "every pod Running in the cloud")
    before = {n: int((pids / n).read_text()) for n in names}

    proxy.cut(blackhole=True)
    offline_started = time.monotonic()
    # A pod process dies while offline: the edge restarts it by its restartPolicy, without the cloud.
    os.kill(before["crashy"], signal.SIGKILL)
    wait_for(lambda: int((pids / "crashy").read_text() or 0) != before["crashy"], 15,
             f"the edge restarting the killed pod\n{edge.log()}")
    # The agent itself dies while offline and comes back: every pod is there, nothing was restarted.
    edge.kill9()
    for name in ("deleted", "steady1", "steady2"):
        os.kill(before[name], 0)  # pods outlive their agent
    edge.restart()
    wait_for(lambda: len(_metaserver_pods(edge)) == len(names), 20, f"the agent back, offline\n{edge.log()}")
    # The cloud deletes a pod meanwhile.
    kubectl("delete", "pod", "deleted", "--wait=false")
    remaining = OFFLINE_SECONDS - (time.monotonic() - offline_started)
    if remaining > 0:
        time.sleep(remaining)
    crashy_pid = int((pids / "crashy").read_text())
    assert _alive(crashy_pid) and all(_alive(before[n]) for n in ("deleted", "steady1", "steady2"))

    proxy.restore()
    restored = time.monotonic()

    def converged() -> bool:
        pods = {p["metadata"]["name"]: p for p in kubectl.json("pods")["items"] if p["metadata"]["name"] in names}
        if "deleted" in pods:
            return False
        crashy = pods["crashy"]["status"]
        counts = {n: _restarts(pods[n]) for n in ("steady1", "steady2")}
        return crashy.get("phase") == "Running" and _restarts(pods["crashy"]) >= 1 and counts == {
            "steady1": 0, "steady2": 0}

    wait_for(converged, 10, f"the cloud's view converged after the network returned\n{edge.log()}")
    assert time.monotonic() - restored <= 10
    wait_for(lambda: edge.held("pods", "default", "deleted") is None, 5, "the deleted pod gone at the edge")
    wait_for(lambda: not _alive(before["deleted"]), 5, "the deleted pod's process stopped")
    # No other pod was restarted: the same processes run.
    assert _alive(crashy_pid) and _alive(before["steady1"]) and _alive(before["steady2"])
    assert int((pids / "steady1").read_text()) == before["steady1"]
    assert int((pids / "steady2").read_text()) == before["steady2"]


def test_host_reboot_while_offline_brings_every_pod_back(kubectl: Kubectl, proxy: TCPProxy, edge: EdgeNode,
                                                         pids: Path) -> None:
    """What a reboot does to a node: the agent, every supervisor and every pod process die at once, with no
    exit recorded. The agent starts again with the cloud still unreachable and runs every pod from its
    metastore; when the network returns, the cloud learns the new processes' restart counts."""
    wait_for(lambda: node_ready(kubectl, edge.node_name), 30, f"node Ready\n{edge.log()}")
    names = ["boot-a", "boot-b", "boot-c"]
    for name in names:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"nodeName": edge.node_name, "containers": [pid_writer("main", pids)]}}
        kubectl("apply", "-f", "-", input=json.dumps(pod))
    wait_for(lambda: all(_phase(kubectl, n) == "Running" for n in names), 30, f"every pod Running\n{edge.log()}")
    before = {n: int((pids / n).read_text()) for n in names}

    proxy.cut(blackhole=True)
    edge.kill9()
    host = sweep.processes_under(edge.data_dir)
    assert sum(p.supervisor for p in host) == len(names), [p.describe() for p in host]
    for p in host:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
    for pid in before.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(_alive(pid) for pid in before.values()) and not sweep.processes_under(edge.data_dir),
             10, "every supervisor and pod process gone, as after a power cut")

    edge.restart()

    def back() -> bool:
        return all((pids / n).exists() and int((pids / n).read_text() or 0) not in (0, before[n])
                   and _alive(int((pids / n).read_text())) for n in names)

    wait_for(back, 30, f"every pod running again while the cloud is unreachable\n{edge.log()}")
    offline = {p["metadata"]["name"]: p for p in _metaserver_pods(edge)}
    assert sorted(offline) == names
    assert all(_restarts(offline[n]) == 1 for n in names), {n: offline[n].get("status") for n in names}

    proxy.restore()
    restored = time.monotonic()

    def converged() -> bool:
        pods = {p["metadata"]["name"]: p for p in kubectl.json("pods")["items"] if p["metadata"]["name"] in names}
        return all(pods[n]["status"].get("phase") == "Running" and _restarts(pods[n]) == 1 for n in names)

    wait_for(converged, 10, f"the cloud's view converged after the network returned\n{edge.log()}")
    assert time.monotonic() - restored <= 10
    for n in names:
        kubectl("delete", "pod", n, "--wait=false")


def _phase(kubectl: Kubectl, name: str) -> str:
    return (kubectl.json("pod", name).get("status") or {}).get("phase", "")


def _restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running; only a process that is reaped or running counts.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _metaserver_pods(edge: EdgeNode) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{edge.metaserver_port}/api/v1/pods"
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)["items"]
