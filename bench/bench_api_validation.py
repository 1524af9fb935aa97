"""Write-path cost of the API types: defaulting + validation per object, and OpenAPI document builds.

Prints microseconds per operation; the API server's write budget (2,000 ConfigMap writes/s on 2 cores)
leaves about 500 µs per write for everything, so validation should stay a small fraction of that.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from edgeplane.api.openapi import openapi_v3_document
from edgeplane.api.registry import Registry

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "app-config", "namespace": "default", "labels": {"app": "web", "tier": "edge"},
                          "annotations": {"example.com/owner": "team-a"}},
             "data": {f"key{i}": "value" * 4 for i in range(10)}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default",
                                                         "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                "env": [{"name": "MODE", "value": "edge"}],
                                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}],
                "nodeSelector": {"pool": "factory-1"}}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD["spec"]}}}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "sensors.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "sensors", "kind": "Sensor"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "unit": {"type": "string", "enum": ["C", "F"], "default": "C"},
                        "interval": {"type": "integer", "minimum": 1},
                        "tags": {"type": "array", "items": {"type": "string"}}}}}}}}]}}
SENSOR = {"apiVersion": "example.com/v1", "kind": "Sensor", "metadata": {"name": "t1", "namespace": "default"},
          "spec": {"interval": 5, "tags": ["a", "b"]}}


def per_op(fn: Callable[[], Any], seconds: float = 0.5) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        count += 100
    return elapsed / count * 1e6


def main() -> None:
    registry = Registry.builtin()
    registry.add_crd(CRD)
    cases = [("configmap", registry.get("", "v1", "configmaps"), CONFIGMAP),
             ("pod", registry.get("", "v1", "pods"), POD),
             ("deployment", registry.get("apps", "v1", "deployments"), DEPLOYMENT),
             ("custom resource", registry.get("example.com", "v1", "sensors"), SENSOR)]
    for label, resource, obj in cases:
        resource.validate(copy.deepcopy(obj))  # compile outside the measurement
        validate = per_op(lambda r=resource, o=obj: r.validate(o))

        def write(r=resource, o=obj) -> None:
            fresh = copy.deepcopy(o)
            r.apply_defaults(fresh)
            r.validate(fresh)

        full = per_op(write)
        copy_cost = per_op(lambda o=obj: copy.deepcopy(o))
        print(f"{label:16s} validate {validate:7.1f} us/op   deepcopy+default+validate {full:7.1f} us/op "
              f"(deepcopy alone {copy_cost:5.1f} us)")
    start = time.perf_counter()
    for group, versions in registry.groups():
        for version in versions:
            openapi_v3_document(registry, group, version)
    print(f"openapi v3 documents, all groups, cold: {(time.perf_counter() - start) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
