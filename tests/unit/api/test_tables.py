"""Table columns and rows as `kubectl get` shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edgeplane.api.registry import Registry
from edgeplane.api.tables import human_duration

REGISTRY = Registry.builtin()
NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def row(group: str, plural: str, obj: dict[str, Any]) -> list[Any]:
    resource = REGISTRY.get(group, "v1", plural)
    assert resource is not None
    cells = resource.table_row(obj, NOW)
    assert len(cells) == len(resource.table_columns())
    return cells


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (0, "0s"), (45, "45s"), (119, "119s"), (330, "5m30s"), (300, "5m"), (1500, "25m"),
    (3 * 3600 + 12 * 60, "3h12m"), (10 * 3600, "10h"), (3 * 86400 + 2 * 3600, "3d2h"), (20 * 86400, "20d"),
    (3 * 365 * 86400 + 5 * 86400, "3y5d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_every_table_starts_with_a_name_column() -> None:
    for resource in REGISTRY.all():
        columns = resource.table_columns()
        names = [c["name"] for c in columns if c["format"] == "name"]
        assert names == ["Name"], resource.kind
        assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in columns)


def test_pod_columns() -> None:
    columns = REGISTRY.get("", "v1", "pods").table_columns()
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1),
        ("Nominated Node", 1), ("Readiness Gates", 1)]


def pod(status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "creationTimestamp": ago(minutes=5), **meta},
            "spec": {"nodeName": "edge-1", "containers": [{"name": "a"}, {"name": "b"}],
                     "initContainers": [{"name": "init"}]},
            "status": status}


RUNNING = {"phase": "Running", "podIP": "10.0.0.5",
           "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
           "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=3)}}},
               {"name": "b", "ready": True, "restartCount": 0, "state": {"running": {}}}]}


@pytest.mark.parametrize(("status", "meta", "expected"), [
    (RUNNING, {}, ["web", "2/2", "Running", "2 (3m ago)", "5m", "10.0.0.5", "edge-1", "<none>", "<none>"]),
    ({"phase": "Pending"}, {}, ["web", "0/2", "Pending", "0", "5m", "<none>", "edge-1", "<none>", "<none>"]),
    ({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {"running": {}}}]}, {},
     ["web", "0/2", "Init:0/1", "0", "5m", "<none>", "edge-1", "<none>", "<none>"]),
    ({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}, {},
     ["web", "0/2", "Init:ImagePullBackOff", "0", "5m", "<none>", "edge-1", "<none>", "<none>"]),
    ({"phase": "Running", "containerStatuses": [
        {"name": "a", "ready": False, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "b", "ready": True, "restartCount": 0, "state": {"running": {}}}]}, {},
     ["web", "1/2", "CrashLoopBackOff", "4", "5m", "<none>", "edge-1", "<none>", "<none>"]),
    ({"phase": "Failed", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 137}}}]}, {},
     ["web", "0/2", "ExitCode:137", "0", "5m", "<none>", "edge-1", "<none>", "<none>"]),
    (RUNNING, {"deletionTimestamp": ago(seconds=1)},
     ["web", "2/2", "Terminating", "2 (3m ago)", "5m", "10.0.0.5", "edge-1", "<none>", "<none>"]),
    ({"phase": "Pending", "reason": "Evicted"}, {},
     ["web", "0/2", "Evicted", "0", "5m", "<none>", "edge-1", "<none>", "<none>"]),
])
def test_pod_rows(status: dict[str, Any], meta: dict[str, Any], expected: list[Any]) -> None:
    assert row("", "pods", pod(status, **meta)) == expected


def test_node_rows() -> None:
    node = {"metadata": {"name": "edge-1", "creationTimestamp": ago(hours=3, minutes=12),
                         "labels": {"node-role.kubernetes.io/edge": "", "node-role.kubernetes.io/worker": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.20"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-edgeplane", "osImage": "Debian 12",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "process://1"}}}
    assert row("", "nodes", node) == ["edge-1", "NotReady,SchedulingDisabled", "edge,worker", "3h12m",
                                      "v1.32.0-edgeplane", "192.168.1.20", "<none>", "Debian 12", "6.1.0",
                                      "process://1"]
    bare = {"metadata": {"name": "n", "creationTimestamp": ago(days=2)}}
    assert row("", "nodes", bare)[:5] == ["n", "Unknown", "<none>", "2d", ""]


def test_workload_rows() -> None:
    spec = {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                                 {"name": "log", "image": "busybox"}],
                                  "nodeSelector": {"pool": "edge"}}}}
    meta = {"name": "web", "creationTimestamp": ago(seconds=30)}
    deploy = {"metadata": meta, "spec": spec,
              "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert row("apps", "deployments", deploy) == ["web", "2/3", 3, 2, "30s", "web,log", "nginx:1.27,busybox",
                                                  "app=web"]
    assert row("apps", "replicasets", {"metadata": meta, "spec": spec, "status": {"replicas": 3}}) == [
        "web", 3, 3, 0, "30s", "web,log", "nginx:1.27,busybox", "app=web"]
    ds_status = {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3,
                 "updatedNumberScheduled": 4, "numberAvailable": 3}
    assert row("apps", "daemonsets", {"metadata": meta, "spec": spec, "status": ds_status}) == [
        "web", 4, 4, 3, 4, 3, "pool=edge", "30s", "web,log", "nginx:1.27,busybox", "app=web"]


def test_small_kind_rows() -> None:
    meta = {"name": "x", "creationTimestamp": ago(minutes=90)}
    assert row("", "namespaces", {"metadata": meta, "status": {"phase": "Active"}}) == ["x", "Active", "90m"]
    assert row("", "configmaps", {"metadata": meta, "data": {"a": "1"}, "binaryData": {"b": ""}}) == [
        "x", 2, "90m"]
    assert row("", "secrets", {"metadata": meta, "type": "Opaque", "data": {"a": ""}}) == ["x", "Opaque", 1, "90m"]
    assert row("", "serviceaccounts", {"metadata": meta}) == ["x", 0, "90m"]
    lease = REGISTRY.get("coordination.k8s.io", "v1", "leases")
    assert lease.table_row({"metadata": meta, "spec": {"holderIdentity": "edge-1"}}, NOW) == ["x", "edge-1", "90m"]


@pytest.mark.parametrize(("spec", "status", "cells"), [
    ({"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": [{"port": 53, "protocol": "UDP"},
                                                                {"port": 53, "protocol": "TCP"}],
      "selector": {"k8s-app": "dns"}}, {},
     ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "k8s-app=dns"]),
    ({"type": "NodePort", "clusterIP": "10.96.0.11", "ports": [{"port": 80, "nodePort": 30080,
                                                               "protocol": "TCP"}]}, {},
     ["NodePort", "10.96.0.11", "<none>", "80:30080/TCP", "<none>"]),
    ({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "protocol": "TCP"}]}, {},
     ["LoadBalancer", "10.96.0.12", "<pending>", "443/TCP", "<none>"]),
    ({"type": "ExternalName", "externalName": "db.example.com"}, {},
     ["ExternalName", "<none>", "db.example.com", "<none>", "<none>"]),
])
def test_service_rows(spec: dict[str, Any], status: dict[str, Any], cells: list[str]) -> None:
    out = row("", "services", {"metadata": {"name": "svc", "creationTimestamp": ago(seconds=5)}, "spec": spec,
                               "status": status})
    assert out == ["svc", *cells[:4], "5s", cells[4]]


def test_event_rows() -> None:
    event = {"metadata": {"name": "web.17a", "namespace": "default"}, "type": "Warning", "reason": "BackOff",
             "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
             "source": {"component": "kubelet", "host": "edge-1"}, "message": " Back-off restarting ",
             "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(seconds=20), "count": 7}
    assert row("", "events", event) == ["20s", "Warning", "BackOff", "pod/web", "spec.containers{web}",
                                        "kubelet, edge-1", "Back-off restarting", "10m", 7, "web.17a"]
    columns = REGISTRY.get("", "v1", "events").table_columns()
    assert [c["name"] for c in columns if c["priority"] == 0] == ["Last Seen", "Type", "Reason", "Object",
                                                                 "Message"]


def test_crd_table_shows_created_at() -> None:
    crds = REGISTRY.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    stamp = ago(days=1)
    assert crds.table_row({"metadata": {"name": "widgets.example.com", "creationTimestamp": stamp}}, NOW) == [
        "widgets.example.com", stamp]
    assert [c["name"] for c in crds.table_columns()] == ["Name", "Created At"]
