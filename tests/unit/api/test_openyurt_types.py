"""OpenYurt's kinds in the registry: discovery facts, defaults, validation messages and table rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from edgeplane.api.registry import Registry

REGISTRY = Registry.builtin()
NODEPOOLS = REGISTRY.get("apps.openyurt.io", "v1beta2", "nodepools")
YURTAPPSETS = REGISTRY.get("apps.openyurt.io", "v1beta1", "yurtappsets")


def _pool(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool", "metadata": {"name": "hz"}, "spec": spec}


def _yas(workload: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps.openyurt.io/v1beta1", "kind": "YurtAppSet",
            "metadata": {"name": "web", "namespace": "default"}, "spec": {"workload": workload, **spec}}


TEMPLATE = {"deploymentTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                                         "spec": {"containers": [{"name": "c", "image": "i"}]}}}}}


def _messages(resource: Any, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    resource.apply_defaults(obj)
    causes, _ = resource.validate(obj, old)
    return [f"{c.field}: {c.message}" for c in causes]


def test_discovery_facts() -> None:
    assert (NODEPOOLS.kind, NODEPOOLS.namespaced, NODEPOOLS.short_names, NODEPOOLS.subresources) == (
        "NodePool", False, ("np",), {"status"})
    assert (YURTAPPSETS.kind, YURTAPPSETS.namespaced, YURTAPPSETS.short_names) == ("YurtAppSet", True, ("yas",))
    assert NODEPOOLS.openapi_schema()["x-kubernetes-group-version-kind"] == [
        {"group": "apps.openyurt.io", "kind": "NodePool", "version": "v1beta2"}]


def test_nodepool_defaults_as_openyurts_webhook() -> None:
    pool = _pool()
    NODEPOOLS.apply_defaults(pool)
    assert pool["spec"]["type"] == "Edge" and pool["metadata"]["labels"] == {"nodepool.openyurt.io/type": "edge"}
    assert pool["spec"]["leaderElectionStrategy"] == "random" and pool["spec"]["leaderReplicas"] == 1
    assert [m["resource"] for m in pool["spec"]["poolScopeMetadata"]] == ["services", "endpointslices"]
    again = {**pool, "spec": dict(pool["spec"])}
    NODEPOOLS.apply_defaults(again)
    assert again == pool, "defaulting twice changes nothing"


@pytest.mark.parametrize(("spec", "expected"), [
    ({"type": "Fog"}, 'spec.type: Unsupported value: "Fog": supported values: "Edge", "Cloud"'),
    ({"type": "Cloud", "hostNetwork": True}, "spec.hostNetwork: Invalid value: true: a Cloud NodePool does not "
                                              "support hostNetwork"),
    ({"labels": {"bad key!": "v"}}, "spec.labels: Invalid value: \"bad key!\""),
    ({"taints": [{"key": "k", "effect": "Sometimes"}]}, 'spec.taints[0].effect: Unsupported value: "Sometimes"'),
    ({"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule", "value": "x"}]},
     "spec.taints[1]: Duplicate value"),
    ({"enableLeaderElection": True, "leaderElectionStrategy": "mark"}, "spec.leaderNodeLabelSelector: Required"),
    ({"hostNetwork": "yes"}, 'spec.hostNetwork: Invalid value: "yes": must be of type boolean'),
])
def test_bad_nodepools_name_the_field(spec: dict[str, Any], expected: str) -> None:
    messages = _messages(NODEPOOLS, _pool(**spec))
    assert any(m.startswith(expected) for m in messages), messages


def test_nodepool_type_hostnetwork_and_interconnectivity_are_immutable() -> None:
    old = _pool(type="Edge", hostNetwork=True)
    NODEPOOLS.apply_defaults(old)
    for change in ({"type": "Cloud", "hostNetwork": False}, {"hostNetwork": False}, {"interConnectivity": True}):
        new = {**old, "spec": {**old["spec"], **change}}
        field = next(iter(change))
        assert any(m.startswith(f"spec.{field}: Invalid value") and "field is immutable" in m
                   for m in _messages(NODEPOOLS, new, old)), change


def test_a_valid_yurtappset_passes_and_gets_its_history_limit() -> None:
    yas = _yas({"workloadTemplate": TEMPLATE, "workloadTweaks": [
        {"pools": ["bj"], "tweaks": {"replicas": 3, "patches": [{"operation": "remove", "path": "/spec/x"}]}}]},
        pools=["bj", "hz"], nodepoolSelector={"matchLabels": {"a": "b"}})
    assert _messages(YURTAPPSETS, yas) == []
    assert yas["spec"]["revisionHistoryLimit"] == 10


@pytest.mark.parametrize(("workload", "spec", "expected"), [
    ({"workloadTemplate": {}}, {}, "spec.workload.workloadTemplate: Required value: one of"),
    ({"workloadTemplate": {**TEMPLATE, "statefulSetTemplate": {"spec": {}}}}, {},
     "spec.workload.workloadTemplate: Forbidden: only one of"),
    ({"workloadTemplate": TEMPLATE}, {"pools": ["Not_A_Pool"]}, "spec.pools[0]: Invalid value: \"Not_A_Pool\""),
    ({"workloadTemplate": TEMPLATE}, {"nodepoolSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}},
     "spec.nodepoolSelector.matchExpressions[0].operator: Unsupported value"),
    ({"workloadTemplate": TEMPLATE, "workloadTweaks": [{"tweaks": {"replicas": -1}}]}, {},
     "spec.workload.workloadTweaks[0].tweaks.replicas: Invalid value: -1"),
    ({"workloadTemplate": TEMPLATE, "workloadTweaks": [{"tweaks": {"patches": [
        {"operation": "add", "path": "spec/replicas"}]}}]}, {},
     "spec.workload.workloadTweaks[0].tweaks.patches[0].path: Invalid value: \"spec/replicas\": must be a JSON "
     "pointer"),
    ({"workloadTemplate": TEMPLATE, "workloadTweaks": [{"tweaks": {"patches": [
        {"operation": "replace", "path": "/spec/replicas"}]}}]}, {},
     "spec.workload.workloadTweaks[0].tweaks.patches[0].value: Required value"),
    ({"workloadTemplate": TEMPLATE, "workloadTweaks": [{"tweaks": {"patches": [
        {"operation": "copy", "path": "/a"}]}}]}, {},
     'spec.workload.workloadTweaks[0].tweaks.patches[0].operation: Unsupported value: "copy"'),
    ({"workloadTemplate": {"deploymentTemplate": {"spec": {}}}}, {},
     "spec.workload.workloadTemplate.deploymentTemplate.spec.template: Required value"),
])
def test_bad_yurtappsets_name_the_field(workload: dict[str, Any], spec: dict[str, Any], expected: str) -> None:
    messages = _messages(YURTAPPSETS, _yas(workload, **spec))
    assert any(m.startswith(expected) for m in messages), messages


def test_table_rows_print_openyurts_columns() -> None:
    now = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    pool = _pool(type="Edge")
    pool["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    pool["status"] = {"readyNodeNum": 2, "unreadyNodeNum": 1}
    columns = [(c["name"], c["priority"]) for c in NODEPOOLS.table_columns()]
    assert columns == [("Name", 0), ("Type", 0), ("ReadyNodes", 0), ("NotReadyNodes", 0), ("LeaderNodes", 1),
                       ("LeaderElectionAge", 1), ("Age", 0)]
    assert NODEPOOLS.table_row(pool, now) == ["hz", "Edge", 2, 1, None, None, "10m"]
    yas = _yas({"workloadTemplate": TEMPLATE})
    yas["metadata"]["creationTimestamp"] = "2026-01-01T00:09:00Z"
    yas["status"] = {"totalWorkloads": 2, "readyWorkloads": 1, "updatedWorkloads": 2}
    assert YURTAPPSETS.table_row(yas, now) == ["web", 2, 1, 2, "60s"]
