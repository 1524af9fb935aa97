"""Deployments through stock kubectl against a real `edgeplane cloud`, with simulated nodes and kubelet."""

from __future__ import annotations

import pytest

from tests.integration.controllers.workloads.census import PodCensus
from tests.integration.controllers.workloads.kubelet import FakeKubelet
from tests.integration.controllers.workloads.waiting import Kubectl, get_json, live, pods, wait_for


def deployment(name: str, namespace: str, replicas: int = 3, image: str = "nginx:1", strategy: str = "",
               extra_spec: str = "") -> str:
    strategy = strategy or "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}"
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  strategy: {strategy}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: main, image: "{image}"}}]}}
{extra_spec}
"""


@pytest.fixture()
def ns(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-")[:50].strip("-")
    kubectl("create", "namespace", name)
    return name


def rollout_status(kubectl: Kubectl, ns: str, name: str) -> str:
    return kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=30s", timeout=40).stdout


def replicasets(kubectl: Kubectl, ns: str) -> list[dict]:
    return get_json(kubectl, "replicasets", "-n", ns)["items"]


def history_revisions(kubectl: Kubectl, ns: str, name: str) -> list[int]:
    out = kubectl("rollout", "history", f"deployment/{name}", "-n", ns).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line[:1].isdigit()]


def test_a_deployment_gets_replicaset_and_pods_owned_as_kubernetes(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                     ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("web", ns))
    assert "successfully rolled out" in rollout_status(kubectl, ns, "web")

    d = get_json(kubectl, "deployment", "web", "-n", ns)
    [rs] = replicasets(kubectl, ns)
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    [ref] = rs["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "Deployment", "web", d["metadata"]["uid"], True, True)

    running = live(pods(kubectl, ns, "app=web"))
    assert len(running) == 3
    for pod in running:
        assert pod["metadata"]["name"].startswith(f"web-{hash_}-")
        [pref] = pod["metadata"]["ownerReferences"]
        assert (pref["kind"], pref["uid"], pref["controller"], pref["blockOwnerDeletion"]) == (
            "ReplicaSet", rs["metadata"]["uid"], True, True)
        assert pod["spec"]["nodeName"] in kubelet.nodes

    status = d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (
        3, 3, 3, 3)
    assert status["observedGeneration"] == d["metadata"]["generation"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"),
                          "Progressing": ("True", "NewReplicaSetAvailable")}
    described = kubectl("describe", "deployment", "web", "-n", ns).stdout
    assert f"Scaled up replica set web-{hash_} from 0 to 3" in described


def test_rolling_update_keeps_within_max_unavailable_and_surge(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                 ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("roll", ns, replicas=4,
                                                 strategy="{rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}"))
    rollout_status(kubectl, ns, "roll")
    census = PodCensus(kubelet, ns, "app=roll", "pod-template-hash")
    try:
        kubectl("set", "image", "deployment/roll", "-n", ns, "main=nginx:2")
        assert "successfully rolled out" in rollout_status(kubectl, ns, "roll")
    finally:
        census.stop()
    # Never fewer than replicas - maxUnavailable ready, never more than replicas + maxSurge pods.
    assert census.min_ready is not None and census.min_ready >= 3
    assert census.max_live <= 5
    assert any(len(versions) == 2 for versions in census.versions_live_together)  # it rolled, not recreated
    images = {p["spec"]["containers"][0]["image"] for p in live(pods(kubectl, ns, "app=roll"))}
    assert images == {"nginx:2"}
    assert history_revisions(kubectl, ns, "roll") == [1, 2]


def test_percentages_round_as_kubernetes(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    # 10 replicas, 25% surge rounds up to 3, 25% unavailable rounds down to 2.
    kubectl("apply", "-f", "-", input=deployment("pct", ns, replicas=10,
                                                 strategy="{rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}"))
    rollout_status(kubectl, ns, "pct")
    census = PodCensus(kubelet, ns, "app=pct", "pod-template-hash")
    try:
        kubectl("set", "image", "deployment/pct", "-n", ns, "main=nginx:2")
        rollout_status(kubectl, ns, "pct")
    finally:
        census.stop()
    assert census.min_ready is not None and census.min_ready >= 8
    assert census.max_live <= 13
    # The first step of the rollout surges by exactly ceil(25% of 10) = 3.
    described = kubectl("describe", "deployment", "pct", "-n", ns).stdout
    new_rs = get_json(kubectl, "deployment", "pct", "-n", ns)
    assert "from 0 to 3" in described, described
    assert new_rs["status"]["updatedReplicas"] == 10


def test_undo_restart_and_history(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("app", ns, replicas=2))
    rollout_status(kubectl, ns, "app")
    kubectl("set", "image", "deployment/app", "-n", ns, "main=nginx:2")
    rollout_status(kubectl, ns, "app")
    assert history_revisions(kubectl, ns, "app") == [1, 2]

    kubectl("rollout", "undo", "deployment/app", "-n", ns)
    rollout_status(kubectl, ns, "app")
    d = get_json(kubectl, "deployment", "app", "-n", ns)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert history_revisions(kubectl, ns, "app") == [2, 3]  # revision 1's ReplicaSet became revision 3
    assert len(replicasets(kubectl, ns)) == 2
    assert {p["spec"]["containers"][0]["image"] for p in live(pods(kubectl, ns, "app=app"))} == {"nginx:1"}

    before = {p["metadata"]["name"] for p in live(pods(kubectl, ns, "app=app"))}
    kubectl("rollout", "restart", "deployment/app", "-n", ns)
    rollout_status(kubectl, ns, "app")
    after = {p["metadata"]["name"] for p in live(pods(kubectl, ns, "app=app"))}
    assert len(after) == 2 and not before & after
    assert history_revisions(kubectl, ns, "app") == [2, 3, 4]


def test_scale_pause_and_resume(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("sc", ns, replicas=2))
    rollout_status(kubectl, ns, "sc")
    kubectl("scale", "deployment/sc", "-n", ns, "--replicas=5")
    rollout_status(kubectl, ns, "sc")
    assert len(live(pods(kubectl, ns, "app=sc"))) == 5

    kubectl("rollout", "pause", "deployment/sc", "-n", ns)
    kubectl("set", "image", "deployment/sc", "-n", ns, "main=nginx:2")
    wait_for(lambda: any(c["reason"] == "DeploymentPaused" for c in
                         get_json(kubectl, "deployment", "sc", "-n", ns)["status"]["conditions"]), "a paused condition")
    assert len(replicasets(kubectl, ns)) == 1  # paused: no new ReplicaSet
    kubectl("scale", "deployment/sc", "-n", ns, "--replicas=3")  # scaling still works while paused
    wait_for(lambda: len(live(pods(kubectl, ns, "app=sc"))) == 3, "3 pods while paused")

    kubectl("rollout", "resume", "deployment/sc", "-n", ns)
    rollout_status(kubectl, ns, "sc")
    assert {p["spec"]["containers"][0]["image"] for p in live(pods(kubectl, ns, "app=sc"))} == {"nginx:2"}
    assert len(live(pods(kubectl, ns, "app=sc"))) == 3


def test_recreate_stops_every_old_pod_before_starting_new_ones(kubectl: Kubectl, kubelet: FakeKubelet,
                                                               ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("rc", ns, replicas=3, strategy="{type: Recreate}"))
    rollout_status(kubectl, ns, "rc")
    census = PodCensus(kubelet, ns, "app=rc", "pod-template-hash")
    try:
        kubectl("set", "image", "deployment/rc", "-n", ns, "main=nginx:2")
        rollout_status(kubectl, ns, "rc")
    finally:
        census.stop()
    assert all(len(versions) <= 1 for versions in census.versions_live_together)
    assert census.min_ready == 0
    assert {p["spec"]["containers"][0]["image"] for p in live(pods(kubectl, ns, "app=rc"))} == {"nginx:2"}


def test_revision_history_limit_deletes_the_oldest_replicasets(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("hist", ns, replicas=1, extra_spec="  revisionHistoryLimit: 1"))
    for image in ("nginx:2", "nginx:3", "nginx:4"):
        kubectl("set", "image", "deployment/hist", "-n", ns, f"main={image}")
        rollout_status(kubectl, ns, "hist")
    wait_for(lambda: len(replicasets(kubectl, ns)) == 2, "old ReplicaSets cleaned up")
    assert history_revisions(kubectl, ns, "hist") == [3, 4]


def test_deleting_a_deployment_removes_its_replicasets_and_pods(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                ns: str) -> None:
    kubectl("apply", "-f", "-", input=deployment("gone", ns, replicas=2))
    rollout_status(kubectl, ns, "gone")
    kubectl("set", "image", "deployment/gone", "-n", ns, "main=nginx:2")
    rollout_status(kubectl, ns, "gone")
    assert len(replicasets(kubectl, ns)) == 2
    kubectl("delete", "deployment", "gone", "-n", ns)
    wait_for(lambda: not replicasets(kubectl, ns) and not pods(kubectl, ns, "app=gone"),
             "ReplicaSets and pods garbage collected")


def test_a_stuck_rollout_exceeds_its_progress_deadline(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    manifest = deployment("stuck", ns, replicas=1, extra_spec="  progressDeadlineSeconds: 2").replace(
        "spec: {containers:", "spec: {nodeSelector: {nowhere: 'true'}, containers:")
    kubectl("apply", "-f", "-", input=manifest)
    result = kubectl("rollout", "status", "deployment/stuck", "-n", ns, "--timeout=30s", check=False, timeout=40)
    assert result.returncode != 0
    assert "exceeded its progress deadline" in result.stderr
    progressing = next(c for c in get_json(kubectl, "deployment", "stuck", "-n", ns)["status"]["conditions"]
                       if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
