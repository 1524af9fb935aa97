"""Validation of built-in kinds: schema structure, unknown fields, metadata, per-kind rules, updates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgeplane.api import names
from edgeplane.api.registry import Registry

REGISTRY = Registry.builtin()


def kind(group: str, plural: str):
    resource = REGISTRY.get(group, "v1", plural)
    assert resource is not None
    return resource


def pod(**spec: Any) -> dict[str, Any]:
    base = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": base}


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
    }
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": base}


def configmap(data: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default", **meta}, "data": data or {"a": "1"}}


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": base}


def causes_of(group: str, plural: str, obj: dict[str, Any], old: dict[str, Any] | None = None,
              mode: str = "Strict") -> list[tuple[str, str]]:
    resource = kind(group, plural)
    resource.apply_defaults(obj)
    if old is not None:
        resource.apply_defaults(old)
    causes, _ = resource.validate(obj, old, mode)
    return [(c.field, c.message) for c in causes]


VALID = [
    ("", "pods", pod()),
    ("apps", "deployments", deployment()),
    ("", "configmaps", configmap()),
    ("", "services", service()),
    ("", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    ("", "secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                     "data": {"token": "c2VjcmV0"}, "stringData": {"user": "admin"}}),
    ("coordination.k8s.io", "leases", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                       "metadata": {"name": "edge-1", "namespace": "kube-node-lease"},
                                       "spec": {"holderIdentity": "edge-1", "leaseDurationSeconds": 40}}),
    ("", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-1", "labels": {"a/b": "c"}},
                   "spec": {"taints": [{"key": "edge", "effect": "NoSchedule"}]},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}],
                              "capacity": {"cpu": "4", "memory": "8Gi"}}}),
    # Null fields decode to zero values, as `kubectl create --dry-run -o yaml` output relies on.
    ("", "pods", {**pod(), "metadata": {"name": "x", "namespace": "default", "creationTimestamp": None},
                  "status": {}}),
]


@pytest.mark.parametrize(("group", "plural", "obj"), VALID, ids=[f"{p}-{i}" for i, (_, p, _) in enumerate(VALID)])
def test_valid_objects_pass(group: str, plural: str, obj: dict[str, Any]) -> None:
    assert causes_of(group, plural, copy.deepcopy(obj)) == []


INVALID = [
    ("pod without containers", "", "pods", pod(containers=[]), [("spec.containers", "Required value")]),
    ("container without image", "", "pods", pod(containers=[{"name": "web"}]),
     [("spec.containers[0].image", "Required value")]),
    ("container without name", "", "pods", pod(containers=[{"image": "nginx"}]),
     [("spec.containers[0].name", "Required value")]),
    ("duplicate container names", "", "pods",
     pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
     [("spec.containers[1].name", 'Duplicate value: "a"')]),
    ("bad restartPolicy", "", "pods", pod(restartPolicy="Sometimes"),
     [("spec.restartPolicy", 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')]),
    ("container port out of range", "", "pods",
     pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]),
     [("spec.containers[0].ports[0].containerPort",
       "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ("bad port protocol", "", "pods",
     pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]),
     [("spec.containers[0].ports[0].protocol",
       'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    ("mount of a missing volume", "", "pods",
     pod(containers=[{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]),
     [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')]),
    ("wrong type", "", "pods", pod(terminationGracePeriodSeconds="soon"),
     [("spec.terminationGracePeriodSeconds", 'Invalid value: "soon": must be of type integer')]),
    ("bad quantity", "", "pods",
     pod(containers=[{"name": "a", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]),
     [("spec.containers[0].resources.limits[cpu]",
       "Invalid value: \"lots\": quantities must match the regular expression "
       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]),
    ("negative replicas", "apps", "deployments", deployment(replicas=-1),
     [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")]),
    ("missing selector", "apps", "deployments", deployment(selector=None),
     [("spec.selector", "Required value")]),
    ("selector not matching template", "apps", "deployments",
     deployment(selector={"matchLabels": {"app": "db"}}),
     [("spec.template.metadata.labels",
       "Invalid value: {...}: `selector` does not match template `labels`")]),
    ("bad strategy", "apps", "deployments", deployment(strategy={"type": "BlueGreen"}),
     [("spec.strategy.type", 'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"')]),
    ("recreate with rollingUpdate", "apps", "deployments",
     deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
     [("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'")]),
    ("both zero", "apps", "deployments",
     deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}),
     [("spec.strategy.rollingUpdate.maxUnavailable", 'Invalid value: "0%": may not be 0 when `maxSurge` is 0')]),
    ("template restartPolicy", "apps", "deployments",
     deployment(template={"metadata": {"labels": {"app": "web"}},
                          "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}),
     [("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')]),
    ("template container image", "apps", "deployments",
     deployment(template={"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}}),
     [("spec.template.spec.containers[0].image", "Required value")]),
    ("bad configmap key", "", "configmaps", configmap({"no spaces": "x"}),
     [("data[no spaces]", 'Invalid value: "no spaces": ' + names.CONFIG_KEY_MSG)]),
    ("configmap value not a string", "", "configmaps", configmap({"n": 1}),
     [("data[n]", "Invalid value: 1: must be of type string")]),
    ("bad name", "", "configmaps", {**configmap(), "metadata": {"name": "Web_1", "namespace": "default"}},
     [("metadata.name", 'Invalid value: "Web_1": ' + names.SUBDOMAIN_MSG)]),
    ("missing name", "", "configmaps", {**configmap(), "metadata": {"namespace": "default"}},
     [("metadata.name", "Required value: name or generateName is required")]),
    ("bad label value", "", "configmaps", configmap(labels={"app": "-web"}),
     [("metadata.labels", 'Invalid value: "-web": ' + names.LABEL_VALUE_MSG)]),
    ("bad label key", "", "configmaps", configmap(labels={"a/b/c": "x"}),
     [("metadata.labels", 'Invalid value: "a/b/c": ' + names.qualified_name("a/b/c")[0])]),
    ("bad annotation key", "", "configmaps", configmap(annotations={"-x": "y"}),
     [("metadata.annotations", 'Invalid value: "-x": ' + names.QUALIFIED_NAME_MSG)]),
    ("namespace on cluster kind", "", "namespaces",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "b"}},
     [("metadata.namespace", "Forbidden: not allowed on this type")]),
    ("namespace name is a label", "", "namespaces",
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}},
     [("metadata.name", 'Invalid value: "a.b": ' + names.LABEL_1123_MSG)]),
    ("service name is a DNS-1035 label", "", "services",
     {**service(), "metadata": {"name": "1web", "namespace": "default"}},
     [("metadata.name", 'Invalid value: "1web": ' + names.LABEL_1035_MSG)]),
    ("service without ports", "", "services", service(ports=[]), [("spec.ports", "Required value")]),
    ("service port range", "", "services", service(ports=[{"port": 0}]),
     [("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
      ("spec.ports[0].targetPort", "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    ("unnamed ports", "", "services", service(ports=[{"port": 80}, {"port": 81}]),
     [("spec.ports[0].name", "Required value"), ("spec.ports[1].name", "Required value")]),
    ("bad service type", "", "services", service(type="Magic"),
     [("spec.type", 'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
                    '"LoadBalancer", "NodePort"')]),
    ("secret data not base64", "", "secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
      "data": {"k": "not base64!"}},
     [("data[k]", 'Invalid value: "<secret contents redacted>": illegal base64 data')]),
    ("tls secret keys", "", "secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
      "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}},
     [("data[tls.key]", "Required value")]),
    ("lease duration", "coordination.k8s.io", "leases",
     {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "default"},
      "spec": {"leaseDurationSeconds": 0}},
     [("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")]),
    ("taint effect", "", "nodes",
     {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
      "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}},
     [("spec.taints[0].effect",
       'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"')]),
]


@pytest.mark.parametrize(("case", "group", "plural", "obj", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_objects_report_kubernetes_causes(case: str, group: str, plural: str, obj: dict[str, Any],
                                                  expected: list[tuple[str, str]]) -> None:
    assert causes_of(group, plural, copy.deepcopy(obj)) == expected


def test_strict_rejects_unknown_fields_with_their_path_and_leaves_object_alone() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["imagePolicy"] = "x"
    obj["spec"]["foo"] = 1
    found = causes_of("", "pods", obj)
    assert found == [("spec.containers[0].imagePolicy", 'unknown field "spec.containers[0].imagePolicy"'),
                     ("spec.foo", 'unknown field "spec.foo"')]
    assert obj["spec"]["foo"] == 1


def test_warn_prunes_unknown_fields_and_warns() -> None:
    resource = kind("apps", "deployments")
    obj = deployment(paused=False, foo={"bar": 1})
    causes, warnings = resource.validate(obj, None, "Warn")
    assert causes == []
    assert warnings == ['unknown field "spec.foo"']
    assert "foo" not in obj["spec"] and obj["spec"]["paused"] is False


def test_ignore_prunes_silently() -> None:
    resource = kind("", "configmaps")
    obj = configmap()
    obj["extra"] = True
    obj["metadata"]["bogus"] = 1
    assert resource.validate(obj, None, "Ignore") == ([], [])
    assert "extra" not in obj and "bogus" not in obj["metadata"]


def test_bad_field_validation_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="fieldValidation must be one of Strict, Warn, Ignore"):
        kind("", "configmaps").validate(configmap(), None, "Loose")


def test_status_is_not_held_to_spec_required_fields() -> None:
    # Agents report container statuses without every field Kubernetes' schema lists as required.
    obj = pod()
    obj["status"] = {"phase": "Running", "containerStatuses": [{"name": "web", "ready": True}]}
    assert causes_of("", "pods", obj) == []


IMMUTABLE_UPDATES = [
    ("rename", "", "configmaps", configmap(), lambda o: o["metadata"].update(name="other"),
     [("metadata.name", 'Invalid value: "other": field is immutable')]),
    ("deployment selector", "apps", "deployments", deployment(),
     lambda o: (o["spec"].update(selector={"matchLabels": {"app": "web", "v": "2"}}),
                o["spec"]["template"]["metadata"]["labels"].update(v="2")),
     [("spec.selector", "Invalid value: {...}: field is immutable")]),
    ("pod restartPolicy", "", "pods", pod(), lambda o: o["spec"].update(restartPolicy="Never"),
     [("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
               "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
               "previously negative)")]),
    ("secret type", "", "secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}},
     lambda o: o.update(type="kubernetes.io/basic-auth", data={"username": "YQ=="}),
     [("type", 'Invalid value: "kubernetes.io/basic-auth": field is immutable')]),
    ("immutable configmap", "", "configmaps", {**configmap(), "immutable": True},
     lambda o: o["data"].update(a="2"),
     [("data", "Forbidden: field is immutable when `immutable` is set")]),
]


@pytest.mark.parametrize(("case", "group", "plural", "old", "change", "expected"), IMMUTABLE_UPDATES,
                         ids=[c[0] for c in IMMUTABLE_UPDATES])
def test_updates_of_immutable_fields_are_rejected(case, group, plural, old, change, expected) -> None:
    new = copy.deepcopy(old)
    change(new)
    assert causes_of(group, plural, new, copy.deepcopy(old)) == expected


def test_pod_update_may_change_image_and_add_tolerations() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["tolerations"] = [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}]
    new["spec"]["activeDeadlineSeconds"] = 60
    assert causes_of("", "pods", new, old) == []


def test_unchanged_update_is_valid() -> None:
    for group, plural, obj in VALID:
        old = copy.deepcopy(obj)
        assert causes_of(group, plural, copy.deepcopy(obj), old) == [], plural
