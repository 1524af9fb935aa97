"""Driving the cloud with kubectl for the OpenYurt tests: simulated nodes and applying objects.

Reading JSON and waiting for state are the workload tests' helpers, re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml

from tests.integration.controllers.workloads.waiting import get_json, wait_for

__all__ = ["Kubectl", "apply", "get_json", "node_object", "wait_for"]

Kubectl = Callable[..., Any]
Obj = dict[str, Any]


def node_object(name: str, labels: dict[str, str] | None = None, ready: bool = True) -> Obj:
    """A Node as a kubelet registers it: allocatable resources and a Ready condition."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   "reason": "KubeletReady", "lastHeartbeatTime": stamp,
                                   "lastTransitionTime": stamp}]},
    }


def apply(kubectl: Kubectl, *objects: Obj) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
