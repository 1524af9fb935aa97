"""Garbage collection by ownerReferences and namespace deletion, driven by kubectl against a real cloud."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.controllers.workloads.kubelet import FakeKubelet
from tests.integration.controllers.workloads.waiting import Kubectl, get_json, live, pods, wait_for


def replicaset(name: str, namespace: str, replicas: int = 2) -> str:
    return f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: main, image: "nginx:1"}}]}}
"""


def owned_configmap(name: str, namespace: str, owner: dict, block: bool = True) -> str:
    m = owner["metadata"]
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "namespace": namespace, "ownerReferences": [{
            "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": m["name"], "uid": m["uid"],
            "blockOwnerDeletion": block}]}})


@pytest.fixture()
def ns(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-")[:50].strip("-")
    kubectl("create", "namespace", name)
    return name


def ready_replicaset(kubectl: Kubectl, ns: str, name: str, replicas: int = 2) -> dict:
    kubectl("apply", "-f", "-", input=replicaset(name, ns, replicas))
    wait_for(lambda: get_json(kubectl, "rs", name, "-n", ns).get("status", {}).get("readyReplicas") == replicas,
             f"{replicas} ready pods of {name}")
    return get_json(kubectl, "rs", name, "-n", ns)


def exists(kubectl: Kubectl, *args: str) -> bool:
    return kubectl("get", *args, check=False).returncode == 0


def test_background_deletion_collects_dependents(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    ready_replicaset(kubectl, ns, "bg")
    kubectl("delete", "rs", "bg", "-n", ns, "--cascade=background", "--wait=false")
    wait_for(lambda: not pods(kubectl, ns, "app=bg"), "pods of a deleted ReplicaSet collected")


def test_foreground_deletion_waits_for_blocking_dependents(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    rs = ready_replicaset(kubectl, ns, "fg")
    kubectl("apply", "-f", "-", input=owned_configmap("fg-config", ns, rs))
    started = time.monotonic()
    kubectl("delete", "rs", "fg", "-n", ns, "--cascade=foreground", "--wait=true", timeout=30)
    assert time.monotonic() - started < 20
    # kubectl returned once the owner was gone, which Foreground allows only after its dependents went.
    assert not pods(kubectl, ns, "app=fg")
    assert not exists(kubectl, "configmap", "fg-config", "-n", ns)


def test_foreground_owner_stays_while_a_dependent_cannot_go(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    owner = json.loads(kubectl("create", "configmap", "holder", "-n", ns, "-o", "json").stdout)
    dependent = json.loads(owned_configmap("stuck", ns, owner))
    dependent["metadata"]["finalizers"] = ["example.com/hold"]
    kubectl("apply", "-f", "-", input=json.dumps(dependent))
    kubectl("delete", "configmap", "holder", "-n", ns, "--cascade=foreground", "--wait=false")
    wait_for(lambda: get_json(kubectl, "configmap", "stuck", "-n", ns)["metadata"].get("deletionTimestamp"),
             "the dependent marked for deletion")
    time.sleep(0.5)
    held = get_json(kubectl, "configmap", "holder", "-n", ns)
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    kubectl("patch", "configmap", "stuck", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: not exists(kubectl, "configmap", "holder", "-n", ns), "the owner deleted after its dependent")


def test_orphan_deletion_keeps_dependents_without_the_reference(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                ns: str) -> None:
    ready_replicaset(kubectl, ns, "orph")
    kubectl("delete", "rs", "orph", "-n", ns, "--cascade=orphan")
    wait_for(lambda: not exists(kubectl, "rs", "orph", "-n", ns), "the orphaning owner gone")
    left = live(pods(kubectl, ns, "app=orph"))
    assert len(left) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in left)
    # A new ReplicaSet with the same selector adopts the orphans instead of making new pods.
    adopter = ready_replicaset(kubectl, ns, "orph")
    adopted = live(pods(kubectl, ns, "app=orph"))
    assert {p["metadata"]["name"] for p in adopted} == {p["metadata"]["name"] for p in left}
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == adopter["metadata"]["uid"] for p in adopted)


def test_cluster_scoped_and_custom_resource_owners(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}))
    wait_for(lambda: exists(kubectl, "gadgets", "-n", ns), "the Gadget type served")
    gadget = json.loads(kubectl("apply", "-f", "-", "-o", "json", input=json.dumps({
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1", "namespace": ns}})).stdout)
    # A custom resource owned by a ConfigMap, and a ConfigMap owned by a cluster-scoped Node.
    holder = json.loads(kubectl("create", "configmap", "holder", "-n", ns, "-o", "json").stdout)
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {
            "name": "g2", "namespace": ns, "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "holder", "uid": holder["metadata"]["uid"]}]}}))
    kubectl("apply", "-f", "-", input=owned_configmap("of-gadget", ns, gadget))
    kubelet.add_node("gc-node")
    node = get_json(kubectl, "node", "gc-node")
    kubectl("apply", "-f", "-", input=owned_configmap("of-node", ns, node))

    kubectl("delete", "configmap", "holder", "-n", ns)
    wait_for(lambda: not exists(kubectl, "gadget", "g2", "-n", ns), "a custom resource collected")
    kubectl("delete", "gadget", "g1", "-n", ns)
    wait_for(lambda: not exists(kubectl, "configmap", "of-gadget", "-n", ns), "a dependent of a custom resource")
    kubelet.nodes.remove("gc-node")
    kubectl("delete", "node", "gc-node")
    wait_for(lambda: not exists(kubectl, "configmap", "of-node", "-n", ns), "a dependent of a Node collected")


def test_a_dependent_with_one_owner_left_keeps_living(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    a = json.loads(kubectl("create", "configmap", "a", "-n", ns, "-o", "json").stdout)
    b = json.loads(kubectl("create", "configmap", "b", "-n", ns, "-o", "json").stdout)
    both = json.loads(owned_configmap("shared", ns, a))
    both["metadata"]["ownerReferences"].append(json.loads(owned_configmap("x", ns, b))["metadata"]["ownerReferences"][0])
    kubectl("apply", "-f", "-", input=json.dumps(both))
    kubectl("delete", "configmap", "a", "-n", ns)
    wait_for(lambda: [r["name"] for r in get_json(kubectl, "configmap", "shared", "-n", ns)["metadata"]
                      ["ownerReferences"]] == ["b"], "the dangling reference removed")
    kubectl("delete", "configmap", "b", "-n", ns)
    wait_for(lambda: not exists(kubectl, "configmap", "shared", "-n", ns), "collected with its last owner")


def test_deleting_a_namespace_removes_everything_in_it(kubectl: Kubectl, kubelet: FakeKubelet, ns: str) -> None:
    ready_replicaset(kubectl, ns, "web", replicas=3)
    kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=a=b")
    kubectl("create", "secret", "generic", "token", "-n", ns, "--from-literal=t=x")
    kubectl("create", "serviceaccount", "robot", "-n", ns)
    kubectl("create", "configmap", "finalized", "-n", ns)
    kubectl("patch", "configmap", "finalized", "-n", ns, "--type=merge",
            "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')

    kubectl("delete", "namespace", ns, "--wait=false")
    namespace = get_json(kubectl, "namespace", ns)
    assert namespace["status"]["phase"] == "Terminating"
    assert namespace["metadata"]["deletionTimestamp"]
    refused = kubectl("create", "configmap", "late", "-n", ns, check=False)
    assert refused.returncode != 0 and "being terminated" in refused.stderr

    # Everything without a finalizer goes; the namespace waits for the one that has one, and says so.
    wait_for(lambda: not pods(kubectl, ns, "app=web") and not exists(kubectl, "rs", "web", "-n", ns),
             "workloads deleted")
    wait_for(lambda: any(c.get("type") == "NamespaceFinalizersRemaining" and c.get("status") == "True"
                         for c in get_json(kubectl, "namespace", ns)["status"].get("conditions", [])),
             "a condition naming the remaining finalizer")
    assert "example.com/hold" in kubectl("describe", "namespace", ns).stdout
    kubectl("patch", "configmap", "finalized", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: not exists(kubectl, "namespace", ns), "the namespace gone")
    kubectl("create", "namespace", ns)  # the name is free again, and nothing of the old content is back
    names = {i["metadata"]["name"] for i in get_json(kubectl, "configmaps,secrets,serviceaccounts,pods,rs", "-n", ns)["items"]}
    assert not names & {"settings", "token", "robot", "finalized", "web"}


def test_kubectl_delete_namespace_waits_until_it_is_empty_and_gone(kubectl: Kubectl, kubelet: FakeKubelet,
                                                                    ns: str) -> None:
    ready_replicaset(kubectl, ns, "w", replicas=2)
    kubectl("delete", "namespace", ns, timeout=30)  # kubectl waits for the namespace to disappear
    assert not exists(kubectl, "namespace", ns)
    assert not get_json(kubectl, "pods", "-A", "-l", "app=w")["items"]
