"""Driving the cloud with kubectl for the OpenYurt tests: simulated nodes, JSON reads, and waiting for state."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml

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


def get_json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")
