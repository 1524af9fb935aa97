"""The built-in registry: discovery names, verbs, subresources, field selectors, scale paths, patch metadata."""

from __future__ import annotations

import pytest

from edgeplane.api.registry import STANDARD_VERBS, Registry, version_priority

REGISTRY = Registry.builtin()

DISCOVERY = [
    # group, plural, kind, namespaced, short names, categories, subresources
    ("", "namespaces", "Namespace", False, ("ns",), (), set()),
    ("", "nodes", "Node", False, ("no",), (), {"status"}),
    ("", "pods", "Pod", True, ("po",), ("all",), {"status", "binding", "log", "exec", "attach", "portforward"}),
    ("", "configmaps", "ConfigMap", True, ("cm",), (), set()),
    ("", "secrets", "Secret", True, (), (), set()),
    ("", "services", "Service", True, ("svc",), ("all",), {"status"}),
    ("", "events", "Event", True, ("ev",), (), set()),
    ("", "serviceaccounts", "ServiceAccount", True, ("sa",), (), set()),
    ("apps", "deployments", "Deployment", True, ("deploy",), ("all",), {"status", "scale"}),
    ("apps", "replicasets", "ReplicaSet", True, ("rs",), ("all",), {"status", "scale"}),
    ("apps", "daemonsets", "DaemonSet", True, ("ds",), ("all",), {"status"}),
    ("coordination.k8s.io", "leases", "Lease", True, (), (), set()),
    ("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False, ("crd", "crds"), (),
     {"status"}),
]


@pytest.mark.parametrize(("group", "plural", "kind", "namespaced", "short", "categories", "subresources"),
                         DISCOVERY, ids=[d[1] for d in DISCOVERY])
def test_discovery_facts(group, plural, kind, namespaced, short, categories, subresources) -> None:
    resource = REGISTRY.get(group, "v1", plural)
    assert resource is REGISTRY.by_kind(group, "v1", kind)
    assert (resource.kind, resource.namespaced, resource.short_names, resource.categories) == (
        kind, namespaced, short, categories)
    assert resource.subresources == subresources
    assert resource.verbs == STANDARD_VERBS and resource.list_kind == kind + "List"
    assert resource.singular == kind.lower() and not resource.is_crd
    assert resource.api_version == (f"{group}/v1" if group else "v1")
    assert resource.openapi_schema()["x-kubernetes-group-version-kind"][0]["kind"] == kind


def test_lookup_misses_and_groups() -> None:
    assert REGISTRY.get("", "v1", "widgets") is None and REGISTRY.by_kind("apps", "v2", "Deployment") is None
    assert REGISTRY.groups() == [("", ["v1"]), ("apps", ["v1"]), ("coordination.k8s.io", ["v1"]),
                                 ("apiextensions.k8s.io", ["v1"]), ("apps.openyurt.io", ["v1beta2", "v1beta1"])]
    assert len(REGISTRY.all()) == len(DISCOVERY) + 2  # and OpenYurt's kinds, tested in test_openyurt_types.py


def test_version_priority_orders_like_kubernetes() -> None:
    versions = ["v1alpha1", "v2beta1", "v1", "foo", "v1beta2", "v2", "v1beta1"]
    assert sorted(versions, key=version_priority) == ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1",
                                                      "foo"]


def test_field_selectors() -> None:
    pods = REGISTRY.get("", "v1", "pods")
    pod = {"metadata": {"name": "web", "namespace": "edge"}, "spec": {"nodeName": "edge-1"},
           "status": {"phase": "Running"}}
    assert {"metadata.name", "spec.nodeName", "status.phase", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "status.podIP"} <= set(pods.supported_fields())
    assert pods.field_value(pod, "spec.nodeName") == "edge-1"
    assert pods.field_value(pod, "status.podIP") == ""
    assert pods.field_value(pod, "spec.bogus") is None
    events = REGISTRY.get("", "v1", "events")
    event = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "uid": "u1"}, "type": "Warning",
             "source": {"component": "kubelet"}}
    assert events.field_value(event, "involvedObject.kind") == "Pod"
    assert events.field_value(event, "source") == "kubelet"
    nodes = REGISTRY.get("", "v1", "nodes")
    assert nodes.field_value({"spec": {"unschedulable": True}}, "spec.unschedulable") == "true"
    assert REGISTRY.get("", "v1", "secrets").field_value({"type": "Opaque"}, "type") == "Opaque"
    assert REGISTRY.get("", "v1", "configmaps").supported_fields() == ("metadata.name", "metadata.namespace")


def test_scale_paths() -> None:
    assert REGISTRY.get("apps", "v1", "deployments").scale_paths() == (".spec.replicas", ".status.replicas", None)
    assert REGISTRY.get("apps", "v1", "daemonsets").scale_paths() is None


def test_patch_meta_follows_kubernetes_extensions() -> None:
    meta = REGISTRY.get("apps", "v1", "deployments").patch_meta()
    containers = meta.field("spec").field("template").field("spec").field("containers")
    assert containers.merge_key == "name" and containers.strategies == ("merge",)
    ports = containers.items().field("ports")
    assert ports.merge_key == "containerPort"
    volumes = meta.field("spec").field("template").field("spec").field("volumes")
    assert volumes.strategies == ("merge", "retainKeys")
    labels = meta.field("metadata").field("labels")
    assert labels.items() is not None and labels.merge_key is None
    assert meta.field("nonexistent") is None
