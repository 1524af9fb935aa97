"""Kubernetes' defaults for built-in kinds: the values users see, and idempotence."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from edgeplane.api.defaults import pull_policy
from edgeplane.api.registry import Registry

REGISTRY = Registry.builtin()


def defaulted(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    resource = REGISTRY.get(group, "v1", plural)
    assert resource is not None
    out = copy.deepcopy(obj)
    resource.apply_defaults(out)
    return out


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}],
                "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
DAEMONSET = {**DEPLOYMENT, "kind": "DaemonSet"}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
           "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "https"}]}}


def test_pod_defaults() -> None:
    spec = defaulted("", "pods", POD)["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "schedulerName", "terminationGracePeriodSeconds",
                                 "securityContext", "enableServiceLinks", "serviceAccountName")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30, "securityContext": {}, "enableServiceLinks": True,
        "serviceAccountName": "default"}
    container = spec["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["livenessProbe"] == {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 3}
    assert spec["volumes"][0]["configMap"] == {"name": "cfg", "defaultMode": 420}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("registry:5000/team/app", "Always"), ("registry:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert pull_policy(image) == policy


def test_user_values_are_kept() -> None:
    pod = copy.deepcopy(POD)
    pod["spec"]["restartPolicy"] = "Never"
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    spec = defaulted("", "pods", pod)["spec"]
    assert spec["restartPolicy"] == "Never" and spec["containers"][0]["imagePullPolicy"] == "Never"


def test_deployment_defaults() -> None:
    spec = defaulted("apps", "deployments", DEPLOYMENT)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                          "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    template = spec["template"]["spec"]
    assert template["restartPolicy"] == "Always" and template["containers"][0]["imagePullPolicy"] == "Always"
    assert "serviceAccountName" not in template  # admission adds it to pods, not to templates


def test_recreate_strategy_gets_no_rolling_update() -> None:
    deployment = copy.deepcopy(DEPLOYMENT)
    deployment["spec"]["strategy"] = {"type": "Recreate"}
    assert defaulted("apps", "deployments", deployment)["spec"]["strategy"] == {"type": "Recreate"}


def test_daemonset_and_replicaset_defaults() -> None:
    spec = defaulted("apps", "daemonsets", DAEMONSET)["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1,
                                                                                "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert defaulted("apps", "replicasets", {**DEPLOYMENT, "kind": "ReplicaSet"})["spec"]["replicas"] == 1


def test_service_defaults() -> None:
    spec = defaulted("", "services", SERVICE)["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 443, "targetPort": "https", "name": "https", "protocol": "TCP"}]


def test_namespace_secret_defaults() -> None:
    namespace = defaulted("", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert namespace["spec"] == {"finalizers": ["kubernetes"]} and namespace["status"] == {"phase": "Active"}
    secret = defaulted("", "secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                       "stringData": {"password": "hunter2"}})
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"password": base64.b64encode(b"hunter2").decode()} and "stringData" not in secret


CASES = [("", "pods", POD), ("apps", "deployments", DEPLOYMENT), ("apps", "daemonsets", DAEMONSET),
         ("", "services", SERVICE),
         ("", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
         ("apiextensions.k8s.io", "customresourcedefinitions",
          {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"},
                    "scope": "Namespaced", "versions": []}})]


@pytest.mark.parametrize(("group", "plural", "obj"), CASES, ids=[c[1] for c in CASES])
def test_defaulting_is_idempotent(group: str, plural: str, obj: dict[str, Any]) -> None:
    once = defaulted(group, plural, obj)
    assert defaulted(group, plural, once) == once
    assert once != obj  # something was defaulted


def test_malformed_input_is_left_for_validation() -> None:
    resource = REGISTRY.get("", "v1", "pods")
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nginx"}}
    resource.apply_defaults(bad)
    causes, _ = resource.validate(bad)
    assert [(c.field, c.message) for c in causes] == [("spec.containers",
                                                       'Invalid value: "nginx": must be of type array')]
