"""A rollout survives the cloud being killed (kill -9) halfway: the restarted controllers finish it from what
the store holds."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud, kubectl_env
from tests.integration.controllers.workloads.kubelet import FakeKubelet
from tests.integration.controllers.workloads.waiting import get_json, live, pods, wait_for


@pytest.fixture()
def restartable(tmp_path: Path) -> Iterator[Cloud]:
    cloud = Cloud(tmp_path / "data").start()
    yield cloud
    cloud.stop()


def test_a_rollout_interrupted_by_kill_9_finishes_after_restart(restartable: Cloud) -> None:
    binary = require_binary("kubectl")

    def kubectl(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, *args], input=input, capture_output=True, text=True, timeout=timeout,
                              env=kubectl_env(restartable))
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc

    kubelet = FakeKubelet(restartable.kubeconfig, ready_delay=0.7)
    try:
        for i in range(2):
            kubelet.add_node(f"node-{i}")
        kubectl("apply", "-f", "-", input="""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 4
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: "nginx:1"}]}
""")
        kubectl("rollout", "status", "deployment/web", "--timeout=30s", timeout=40)
        kubectl("set", "image", "deployment/web", "main=nginx:2")

        def midway() -> bool:
            status = get_json(kubectl, "deployment", "web").get("status") or {}
            return 1 <= status.get("updatedReplicas", 0) < 4

        wait_for(midway, "the rollout under way")
        restartable.kill9()
        restartable.start()

        kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=70)
        running = live(pods(kubectl, "default", "app=web"))
        assert len(running) == 4
        assert {p["spec"]["containers"][0]["image"] for p in running} == {"nginx:2"}
        replicasets = get_json(kubectl, "replicasets")["items"]
        assert sorted(rs["spec"]["replicas"] for rs in replicasets) == [0, 4]
        assert get_json(kubectl, "deployment", "web")["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"] == "2"
    finally:
        kubelet.close()
