"""Pod ranking, expectations, owner reference patches and daemon pod placement."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from edgeplane.controllers import expectations as expectations_module
from edgeplane.controllers.daemonset import (
    NodeView,
    Placement,
    pin_to_node,
    target_node,
    with_daemon_tolerations,
)
from edgeplane.controllers.expectations import Expectations, WriteFence
from edgeplane.controllers.ownerrefs import adoption_patch, controller_ref, release_patch
from edgeplane.controllers.pods import available_in, deletion_order, is_active

Obj = dict[str, Any]


def ts(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, node: str = "n1", phase: str = "Running", ready: bool = True, ready_for: float = 100,
        created: float = 200, restarts: int = 0) -> Obj:
    return {"metadata": {"name": name, "creationTimestamp": ts(created)},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": ts(ready_for)}]}}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_deletion_order_follows_kubernetes_ranking() -> None:
    ranked = deletion_order([
        pod("old-ready", created=500),
        pod("unscheduled", node="", phase="Pending", ready=False),
        pod("pending", phase="Pending", ready=False, node="n2"),
        pod("not-ready", ready=False, node="n3"),
        pod("new-ready", created=10, node="n4"),
    ])
    assert names(ranked)[:3] == ["unscheduled", "pending", "not-ready"]
    assert names(ranked)[-1] == "old-ready"


def test_deletion_order_prefers_crowded_nodes_then_recently_ready_then_restarts() -> None:
    crowded = [pod("a", node="busy"), pod("b", node="busy")]
    assert names(deletion_order([pod("alone", node="quiet"), *crowded]))[-1] == "alone"
    assert names(deletion_order([pod("long", node="x", ready_for=500), pod("short", node="y", ready_for=5)]))[0] == "short"
    assert names(deletion_order([pod("calm", node="x"), pod("flappy", node="y", restarts=4)]))[0] == "flappy"


def test_active_and_available() -> None:
    assert not is_active(pod("done", phase="Succeeded"))
    deleting = pod("x")
    deleting["metadata"]["deletionTimestamp"] = ts(0)
    assert not is_active(deleting)
    now = datetime.now(UTC)
    assert available_in(pod("x", ready_for=100), 30, now) == 0.0
    wait = available_in(pod("x", ready_for=10), 30, now)
    assert wait is not None and 19 <= wait <= 21
    assert available_in(pod("x", ready=False), 0, now) is None


class FakeInformer:
    def __init__(self) -> None:
        self.cache: dict[str, Obj] = {}
        self.resource_version = "10"


def test_expectations_wait_for_creations_and_deletions_to_show() -> None:
    informer = FakeInformer()
    exp = Expectations(informer)  # type: ignore[arg-type]
    exp.created("rs", "ns/p1", "11")
    exp.deleted("rs", "ns/p0")
    informer.cache["ns/p0"] = {"metadata": {}}
    assert not exp.satisfied("rs")
    informer.cache["ns/p1"] = {"metadata": {}}
    assert not exp.satisfied("rs")  # p0 still shown alive
    informer.cache["ns/p0"] = {"metadata": {"deletionTimestamp": "t"}}
    assert exp.satisfied("rs")
    # A pod created and deleted again before the cache saw it: the informer passing its revision is enough.
    exp.created("rs", "ns/p2", "12")
    assert not exp.satisfied("rs")
    informer.resource_version = "12"
    assert exp.satisfied("rs")


def test_expectations_expire(monkeypatch: Any) -> None:
    informer = FakeInformer()
    exp = Expectations(informer)  # type: ignore[arg-type]
    exp.created("rs", "ns/lost", "99")
    assert not exp.satisfied("rs")
    monkeypatch.setattr(expectations_module, "EXPIRY_SECONDS", 0.0)
    time.sleep(0.001)
    assert exp.satisfied("rs")


def test_write_fence_waits_for_the_informer() -> None:
    informer = FakeInformer()
    fence = WriteFence(informer)  # type: ignore[arg-type]
    fence.wrote("d", {"metadata": {"resourceVersion": "15"}})
    assert not fence.caught_up("d")
    informer.resource_version = "15"
    assert fence.caught_up("d") and fence.caught_up("other")


def test_adoption_and_release_patches_are_compare_and_swap() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "uid": "u1"}}
    orphan = {"metadata": {"resourceVersion": "7", "ownerReferences": [{"uid": "other", "kind": "X", "name": "x"}]}}
    patch = adoption_patch(orphan, owner)
    assert patch["metadata"]["resourceVersion"] == "7"
    adopted = {"metadata": {**orphan["metadata"], "ownerReferences": patch["metadata"]["ownerReferences"]}}
    assert controller_ref(adopted) == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
                                       "controller": True, "blockOwnerDeletion": True}
    assert release_patch(adopted, "u1")["metadata"]["ownerReferences"] == [{"uid": "other", "kind": "X", "name": "x"}]
    only = {"metadata": {"resourceVersion": "8", "ownerReferences": [controller_ref(adopted)]}}
    assert release_patch(only, "u1")["metadata"]["ownerReferences"] is None


def ds(pod_spec: Obj) -> Obj:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c"}], **pod_spec}}}}


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> NodeView:
    return NodeView.of({"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}})


def test_daemon_placement() -> None:
    placement = Placement(ds({"nodeSelector": {"role": "edge"}}))
    assert placement.judge(node("a", {"role": "edge"})) == (True, True)
    assert placement.judge(node("b")) == (False, False)
    no_schedule = [{"key": "k", "effect": "NoSchedule"}]
    no_execute = [{"key": "k", "effect": "NoExecute"}]
    assert placement.judge(node("c", {"role": "edge"}, no_schedule)) == (False, True)  # may keep running
    assert placement.judge(node("d", {"role": "edge"}, no_execute)) == (False, False)  # evicted
    # Daemon tolerations: a cordoned or unreachable node keeps its daemon.
    cordoned = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    assert placement.judge(node("e", {"role": "edge"}, cordoned)) == (True, True)
    tolerant = Placement(ds({"tolerations": [{"key": "k", "operator": "Exists"}]}))
    assert tolerant.judge(node("f", taints=no_execute)) == (True, True)
    by_affinity = Placement(ds({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}}))
    assert by_affinity.judge(node("g", {"zone": "z1"}))[0] and not by_affinity.judge(node("h", {"zone": "z2"}))[0]


def test_daemon_pods_are_pinned_and_tolerant() -> None:
    spec: Obj = {"hostNetwork": True, "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                       "effect": "NoExecute", "tolerationSeconds": 5}]}
    with_daemon_tolerations(spec)
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert keys.count(("node.kubernetes.io/not-ready", "NoExecute")) == 1
    not_ready = next(t for t in spec["tolerations"] if t["key"] == "node.kubernetes.io/not-ready")
    assert "tolerationSeconds" not in not_ready  # replaced, as Kubernetes does: a daemon stays for good
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys
    pin_to_node(spec, "n7")
    assert target_node({"spec": spec}) == "n7"
    assert target_node({"spec": {**spec, "nodeName": "n8"}}) == "n8"
