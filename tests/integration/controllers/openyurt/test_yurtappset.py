"""YurtAppSets against a real `edgeplane cloud`: one Deployment per selected pool, pinned and tweaked."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from tests.integration.controllers.openyurt.cluster import Kubectl, apply, get_json, node_object, wait_for

POOL_LABEL = "apps.openyurt.io/pool-name"
HZ_TAINT = {"key": "apps.openyurt.io/example", "value": "test-hangzhou", "effect": "NoSchedule"}


def _pool(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool",
            "metadata": {"name": name, "labels": labels or {}}, "spec": {"type": "Edge", **spec}}


def _yurtappset(name: str, pools: list[str], tweaks: list[dict[str, Any]] | None = None,
                **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps.openyurt.io/v1beta1", "kind": "YurtAppSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"pools": pools, **spec, "workload": {
            "workloadTemplate": {"deploymentTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}},
            "workloadTweaks": tweaks or []}},
    }


def _deployments(kubectl: Kubectl, owner: str) -> dict[str, dict[str, Any]]:
    items = get_json(kubectl, "deployments", "-n", "default", "-l",
                     f"apps.openyurt.io/yurtappset-owner={owner}")["items"]
    return {d["metadata"]["labels"][POOL_LABEL]: d for d in items if not d["metadata"].get("deletionTimestamp")}


def _wait_pools(kubectl: Kubectl, owner: str, pools: set[str]) -> dict[str, dict[str, Any]]:
    return wait_for(lambda: (found := _deployments(kubectl, owner)).keys() == pools and found,
                    f"Deployments of {owner} for exactly {sorted(pools)}")


@pytest.fixture(scope="module")
def pools(kubectl: Kubectl) -> dict[str, list[str]]:
    """Pools hangzhou (tainted, two nodes) and beijing (one node), and a node in no pool."""
    members = {"hangzhou": ["hz-1", "hz-2"], "beijing": ["bj-1"]}
    apply(kubectl, _pool("hangzhou", taints=[HZ_TAINT]), _pool("beijing", type="Cloud"),
          node_object("loose-1"),
          *(node_object(n, labels={"apps.openyurt.io/nodepool": pool}) for pool, ns in members.items() for n in ns))
    return members


def test_one_pinned_deployment_per_pool_with_the_pools_tweaks(kubectl: Kubectl, pools: dict[str, list[str]]) -> None:
    apply(kubectl, _yurtappset("web", ["hangzhou", "beijing"], [{"pools": ["beijing"], "tweaks": {"replicas": 3}}]))
    yas = get_json(kubectl, "yas", "web", "-n", "default")
    found = _wait_pools(kubectl, "web", {"hangzhou", "beijing"})

    for pool, deployment in found.items():
        meta, spec = deployment["metadata"], deployment["spec"]
        assert meta["name"].startswith(f"web-{pool}-") and meta["generateName"] == f"web-{pool}-"
        assert meta["labels"]["app"] == "web" and meta["annotations"]["apps.openyurt.io/ref-nodepool"] == pool
        assert meta["ownerReferences"] == [{"apiVersion": "apps.openyurt.io/v1beta1", "kind": "YurtAppSet",
                                            "name": "web", "uid": yas["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
        assert spec["selector"]["matchLabels"] == {"app": "web", POOL_LABEL: pool}
        assert spec["template"]["metadata"]["labels"][POOL_LABEL] == pool
        assert spec["template"]["spec"]["nodeSelector"] == {"apps.openyurt.io/nodepool": pool}
    assert found["beijing"]["spec"]["replicas"] == 3 and found["hangzhou"]["spec"]["replicas"] == 2
    assert "tolerations" not in found["beijing"]["spec"]["template"]["spec"]
    assert found["hangzhou"]["spec"]["template"]["spec"]["tolerations"] == [
        {"key": HZ_TAINT["key"], "operator": "Equal", "value": HZ_TAINT["value"], "effect": "NoSchedule"}]

    status = wait_for(lambda: (s := get_json(kubectl, "yas", "web", "-n", "default").get("status", {}))
                      .get("totalWorkloads") == 2 and s, "the YurtAppSet's status")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["PoolFound"] == "True" and conditions["AppDispatched"] == "True"
    assert status["currentRevision"].startswith("web-") and status["observedGeneration"] == 1
    assert kubectl("get", "yas", "web").stdout.split()[:5] == ["NAME", "TOTAL", "READY", "UPDATED", "AGE"]


@pytest.mark.skipif(any(importlib.util.find_spec(f"edgeplane.controllers.{m}") is None
                        for m in ("scheduler", "deployment", "replicaset")),
                    reason="pods need the Deployment and ReplicaSet controllers and the scheduler")
def test_pods_land_only_on_their_pools_nodes(kubectl: Kubectl, pools: dict[str, list[str]]) -> None:
    apply(kubectl, _yurtappset("placed", ["hangzhou", "beijing"], [{"pools": ["beijing"], "tweaks": {"replicas": 3}}]))

    def bound() -> dict[str, list[str]] | None:
        items = get_json(kubectl, "pods", "-n", "default", "-l", "app=placed")["items"]
        nodes: dict[str, list[str]] = {}
        for pod in items:
            if not pod["spec"].get("nodeName"):
                return None
            nodes.setdefault(pod["metadata"]["labels"][POOL_LABEL], []).append(pod["spec"]["nodeName"])
        return nodes if sum(map(len, nodes.values())) == 5 else None

    placement = wait_for(bound, "five bound pods", timeout=30)
    assert len(placement["hangzhou"]) == 2 and set(placement["hangzhou"]) <= set(pools["hangzhou"])
    assert placement["beijing"] == ["bj-1"] * 3


def test_pools_entering_and_leaving_the_selection(kubectl: Kubectl, pools: dict[str, list[str]]) -> None:
    selector = {"matchLabels": {"yurtappset.openyurt.io/type": "nginx"}}
    apply(kubectl, _yurtappset("sel", ["hangzhou", "beijing"], nodepoolSelector=selector))
    first = _wait_pools(kubectl, "sel", {"hangzhou", "beijing"})

    # Removing a pool's entry removes its Deployment, and only that one.
    kubectl("patch", "yas", "sel", "--type=json", "-p", '[{"op": "remove", "path": "/spec/pools/1"}]')
    after = _wait_pools(kubectl, "sel", {"hangzhou"})
    assert after["hangzhou"]["metadata"]["uid"] == first["hangzhou"]["metadata"]["uid"]
    assert any(e["reason"] == "SuccessfulDeleteWorkload" for e in get_json(
        kubectl, "events", "-n", "default", "--field-selector", "involvedObject.name=sel")["items"])

    # A new pool whose labels match the selector gets one; relabelling it away takes it back.
    apply(kubectl, _pool("shanghai", labels={"yurtappset.openyurt.io/type": "nginx"}))
    _wait_pools(kubectl, "sel", {"hangzhou", "shanghai"})
    kubectl("label", "np", "shanghai", "yurtappset.openyurt.io/type-")
    _wait_pools(kubectl, "sel", {"hangzhou"})

    # A pool deleted outright loses its Deployment too.
    apply(kubectl, _pool("wuhan", labels={"yurtappset.openyurt.io/type": "nginx"}))
    _wait_pools(kubectl, "sel", {"hangzhou", "wuhan"})
    kubectl("delete", "np", "wuhan")
    _wait_pools(kubectl, "sel", {"hangzhou"})


def test_tweaks_images_and_patches_follow_the_template(kubectl: Kubectl, pools: dict[str, list[str]]) -> None:
    tweak = {"pools": ["beijing"], "tweaks": {
        "containerImages": [{"name": "web", "targetImage": "nginx:1.26"}],
        "patches": [{"operation": "add", "path": "/spec/template/spec/containers/0/env",
                     "value": [{"name": "POOL", "value": "{{nodepool-name}}"}]}]}}
    apply(kubectl, _yurtappset("tw", ["hangzhou", "beijing"], [tweak]))
    found = _wait_pools(kubectl, "tw", {"hangzhou", "beijing"})
    beijing = found["beijing"]["spec"]["template"]["spec"]["containers"][0]
    assert beijing["image"] == "nginx:1.26" and beijing["env"] == [{"name": "POOL", "value": "beijing"}]
    assert found["hangzhou"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

    # A template change rolls every pool's Deployment to the new revision, tweaks still applied.
    kubectl("patch", "yas", "tw", "--type=json", "-p", json.dumps([{
        "op": "replace", "path": "/spec/workload/workloadTemplate/deploymentTemplate/spec/replicas", "value": 4}]))
    rolled = wait_for(lambda: (f := _deployments(kubectl, "tw")) and all(d["spec"]["replicas"] == 4
                                                                         for d in f.values()) and f,
                      "both Deployments at 4 replicas")
    assert rolled["beijing"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert rolled["beijing"]["metadata"]["uid"] == found["beijing"]["metadata"]["uid"]

    # A patch that cannot apply is reported on the YurtAppSet, not silently dropped.
    kubectl("patch", "yas", "tw", "--type=json", "-p", json.dumps([{
        "op": "add", "path": "/spec/workload/workloadTweaks/0/tweaks/patches/-",
        "value": {"operation": "replace", "path": "/spec/nonexistent/field", "value": 1}}]))
    dispatched = wait_for(lambda: next((c for c in get_json(kubectl, "yas", "tw").get("status", {})
                                        .get("conditions", []) if c["type"] == "AppDispatched"
                                        and c["status"] == "False"), None), "AppDispatched=False")
    assert "beijing" in dispatched["message"] and "/spec/nonexistent/field" in dispatched["message"]


def test_bad_yurtappsets_are_rejected_with_the_field_named(kubectl: Kubectl) -> None:
    both = _yurtappset("both", ["p"])
    template = both["spec"]["workload"]["workloadTemplate"]
    template["statefulSetTemplate"] = template["deploymentTemplate"]
    result = kubectl("apply", "-f", "-", input=json.dumps(both), check=False)
    assert result.returncode != 0 and "spec.workload.workloadTemplate: Forbidden" in result.stderr

    bad_patch = _yurtappset("bad", ["p"], [{"pools": ["p"], "tweaks": {
        "patches": [{"operation": "move", "path": "spec/replicas"}]}}])
    result = kubectl("apply", "-f", "-", input=json.dumps(bad_patch), check=False)
    assert result.returncode != 0
    assert 'spec.workload.workloadTweaks[0].tweaks.patches[0].operation: Unsupported value: "move"' in result.stderr
