"""A Deployment whose pods run as podman containers on an edge node, end to end: `edgeplane cloud` and
`edgeplane join --runtime podman` as separate processes, an image built locally from Debian's static
busybox (`podman import`, no registry), kubectl against the cloud."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeplane.edge.runtimes.podman import LABEL
from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, create_token, wait_for
from tests.integration.edge.runtimes.test_runtime_podman import busybox_image
from tests.integration.operate.cluster import Kubectl


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("podman-deploy") / "data").start()
    yield c
    c.stop()


def _containers(podman: str, **labels: str) -> list[dict[str, Any]]:
    filters = [arg for key, value in labels.items() for arg in ("--filter", f"label={LABEL}.{key}={value}")]
    out = subprocess.run([podman, "ps", "-a", *filters, "--format", "json"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return json.loads(out or "[]")


@pytest.fixture
def podman_edge(cloud: Cloud, tmp_path: Path) -> Iterator[tuple[EdgeNode, str, str]]:
    """An edge node joined with --runtime podman, the podman binary and the local image; reset at the end."""
    podman = require_binary("podman")
    require_binary("runc")
    image = busybox_image(podman)
    with EdgeNode(tmp_path / "edge", cloud.url, "podman-deploy") as edge:
        edge.join(create_token(cloud), "--runtime", "podman")
        yield edge, podman, image


def test_a_deployment_runs_as_podman_containers(cloud: Cloud, podman_edge: tuple[EdgeNode, str, str]) -> None:
    edge, podman, image = podman_edge
    kubectl = Kubectl(cloud)
    wait_for(lambda: edge.node_name in kubectl("get", "nodes"), 60, f"the node registered\n{edge.log()}")
    node = kubectl.json("node", edge.node_name)
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("podman")
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "boxes", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "boxes"}},
                 "template": {"metadata": {"labels": {"app": "boxes"}},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": edge.node_name},
                                       # sleep as a container's PID 1 ignores SIGTERM: do not wait 30 s
                                       "terminationGracePeriodSeconds": 1,
                                       "containers": [{"name": "box", "image": image,
                                                       "imagePullPolicy": "Never",
                                                       "command": ["sh", "-c", "exec sleep 100000"]}]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(deployment))

    def running() -> list[dict[str, Any]]:
        pods = [p for p in kubectl.json("pods", "-l", "app=boxes")["items"]
                if (p.get("status") or {}).get("phase") == "Running"]
        return pods if len(pods) == 2 else []

    pods = wait_for(running, 90, f"2 Running pods\n{edge.log()}")
    wide = kubectl("get", "pods", "-l", "app=boxes", "-o", "wide")
    for p in pods:
        name, ip = p["metadata"]["name"], p["status"]["podIP"]
        line = next(line for line in wide.splitlines() if line.startswith(name))
        assert "Running" in line and edge.node_name in line and ip in line, wide
        # Each pod is a real podman container of that image, running.
        [box] = _containers(podman, **{"pod.uid": p["metadata"]["uid"], "container": "box"})
        assert box["State"] == "running" and box["Image"].endswith(image.split("/", 1)[1])
        status = p["status"]["containerStatuses"][0]
        assert status["ready"] and status["containerID"].startswith("podman://")

    kubectl("scale", "deployment", "boxes", "--replicas=1")
    wait_for(lambda: len(kubectl.json("pods", "-l", "app=boxes")["items"]) == 1, 60, "the scale-down")
    gone = {p["metadata"]["uid"] for p in pods} - {p["metadata"]["uid"] for p in
                                                    kubectl.json("pods", "-l", "app=boxes")["items"]}
    [removed] = gone
    wait_for(lambda: not _containers(podman, **{"pod.uid": removed}), 60,
             f"the scaled-down pod's container removed\n{edge.log()}")
    kubectl("delete", "deployment", "boxes")
    wait_for(lambda: not kubectl.json("pods", "-l", "app=boxes")["items"], 60, "the pods deleted")
    for p in pods:
        wait_for(lambda uid=p["metadata"]["uid"]: not _containers(podman, **{"pod.uid": uid}), 60,
                 "every container removed")
