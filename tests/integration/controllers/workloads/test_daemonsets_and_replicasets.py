"""DaemonSets and ReplicaSets through kubectl against a real cloud with simulated nodes."""

from __future__ import annotations

import json

import pytest

from tests.integration.controllers.workloads.census import PodCensus
from tests.integration.controllers.workloads.kubelet import FakeKubelet, pinned_node
from tests.integration.controllers.workloads.waiting import Kubectl, get_json, live, pods, wait_for


@pytest.fixture()
def ns(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-")[:50].strip("-")
    kubectl("create", "namespace", name)
    return name


def daemonset(name: str, namespace: str, image: str = "agent:1", pod_spec: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: main, image: "{image}"}}]
{pod_spec}
"""


def ds_status(kubectl: Kubectl, ns: str, name: str) -> dict:
    return get_json(kubectl, "daemonset", name, "-n", ns).get("status") or {}


def nodes_with_pods(kubectl: Kubectl, ns: str, selector: str) -> list[str]:
    return sorted(p["spec"].get("nodeName", "") for p in live(pods(kubectl, ns, selector)))


def test_a_daemonset_runs_one_pod_per_node_including_nodes_that_join_later(
        kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=daemonset("agent", ns))
    kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s", timeout=40)
    assert nodes_with_pods(kubectl, ns, "app=agent") == sorted(kubelet.nodes)

    pod = live(pods(kubectl, ns, "app=agent"))[0]
    assert pinned_node(pod) == pod["spec"]["nodeName"]  # pinned by node affinity, bound by the scheduler
    tolerated = {(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]}
    assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tolerated
    assert pod["metadata"]["labels"]["controller-revision-hash"]

    kubelet.add_node("joined-later")
    wait_for(lambda: "joined-later" in nodes_with_pods(kubectl, ns, "app=agent"), "a pod on the new node")
    wait_for(lambda: ds_status(kubectl, ns, "agent").get("numberAvailable") == len(kubelet.nodes),
             "every node's pod available")
    status = ds_status(kubectl, ns, "agent")
    n = len(kubelet.nodes)
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"],
            status["updatedNumberScheduled"], status["numberMisscheduled"]) == (n, n, n, n, 0)
    assert "SuccessfulCreate" in kubectl("describe", "daemonset", "agent", "-n", ns).stdout


def test_node_selector_and_taints_decide_where_daemons_run(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubelet.add_node("edge-a", labels={"role": "edge"})
    kubelet.add_node("edge-tainted", labels={"role": "edge"},
                     taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    kubectl("apply", "-f", "-", input=daemonset("picky", ns, pod_spec="      nodeSelector: {role: edge}"))
    wait_for(lambda: nodes_with_pods(kubectl, ns, "app=picky") == ["edge-a"], "a pod on the untainted edge node")
    assert ds_status(kubectl, ns, "picky")["desiredNumberScheduled"] == 1

    kubectl("apply", "-f", "-", input=daemonset("tolerant", ns, pod_spec=(
        "      nodeSelector: {role: edge}\n"
        "      tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]")))
    wait_for(lambda: nodes_with_pods(kubectl, ns, "app=tolerant") == ["edge-a", "edge-tainted"],
             "the tolerating daemon on both edge nodes")

    # A node that stops matching loses its daemon pod (misscheduled pods are removed).
    kubectl("label", "node", "edge-a", "role-")
    wait_for(lambda: nodes_with_pods(kubectl, ns, "app=picky") == [], "the daemon pod removed from edge-a")
    wait_for(lambda: ds_status(kubectl, ns, "picky").get("desiredNumberScheduled") == 0, "nothing desired")


def test_daemonset_rolling_update_replaces_at_most_max_unavailable_at_once(
        kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=daemonset("roll", ns))
    kubectl("rollout", "status", "daemonset/roll", "-n", ns, "--timeout=30s", timeout=40)
    desired = ds_status(kubectl, ns, "roll")["desiredNumberScheduled"]
    assert desired >= 3
    census = PodCensus(kubelet, ns, "app=roll", "controller-revision-hash")
    try:
        kubectl("set", "image", "daemonset/roll", "-n", ns, "main=agent:2")
        kubectl("rollout", "status", "daemonset/roll", "-n", ns, "--timeout=30s", timeout=40)
    finally:
        census.stop()
    assert census.min_ready is not None and census.min_ready >= desired - 1  # maxUnavailable defaults to 1
    assert census.max_live <= desired  # no surge: never two pods on a node
    images = {p["spec"]["containers"][0]["image"] for p in live(pods(kubectl, ns, "app=roll"))}
    assert images == {"agent:2"}


def replicaset(name: str, namespace: str, replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}, tier: web}}}}
    spec: {{containers: [{{name: main, image: "nginx:1"}}]}}
"""


def test_replicaset_adopts_releases_and_deletes_unscheduled_pods_first(
        kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=replicaset("rs", ns, 2))
    wait_for(lambda: (get_json(kubectl, "rs", "rs", "-n", ns).get("status") or {}).get("availableReplicas") == 2,
             "2 available")
    running = {p["metadata"]["name"] for p in live(pods(kubectl, ns, "app=rs"))}

    # An orphan that matches, and that no node can take: adopted, it makes 3, and it is the one to go.
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "namespace": ns, "labels": {"app": "rs"}},
        "spec": {"nodeSelector": {"nowhere": "true"}, "containers": [{"name": "main", "image": "nginx:1"}]}}))
    wait_for(lambda: not live([p for p in pods(kubectl, ns, "app=rs") if p["metadata"]["name"] == "stray"]),
             "the unscheduled adopted pod deleted")
    assert {p["metadata"]["name"] for p in live(pods(kubectl, ns, "app=rs"))} == running
    assert "Deleted pod: stray" in kubectl("describe", "rs", "rs", "-n", ns).stdout

    # A pod relabelled out of the selector is released, and replaced.
    victim = sorted(running)[0]
    kubectl("label", "pod", victim, "-n", ns, "app=other", "--overwrite")
    wait_for(lambda: not get_json(kubectl, "pod", victim, "-n", ns)["metadata"].get("ownerReferences"),
             "the relabelled pod released")
    wait_for(lambda: len(live(pods(kubectl, ns, "app=rs"))) == 2, "a replacement")

    # fullyLabeledReplicas counts pods carrying every template label, not just the selector's.
    keeper = live(pods(kubectl, ns, "app=rs"))[0]["metadata"]["name"]
    kubectl("label", "pod", keeper, "-n", ns, "tier-")
    status = wait_for(lambda: (s := get_json(kubectl, "rs", "rs", "-n", ns)["status"]).get("fullyLabeledReplicas") == 1
                      and s.get("readyReplicas") == 2 and s, "one fully labelled replica of two ready")
    assert status["replicas"] == 2 and status["availableReplicas"] == 2
