"""Helpers for pod manager tests: pods and objects put into a real MetaStore as the hub client would."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from typing import Any

from edgeplane.edge.metastore import Change, MetaStore

NODE = "edge-1"
_rv = itertools.count(1)


def put(store: MetaStore, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("namespace", "" if resource in ("nodes", "namespaces") else "default")
    rv = next(_rv) + 1000 * len(store.inventory())
    held = store.version(resource, meta["namespace"], meta["name"]) or 0
    rv = max(rv, held + 1)
    meta["resourceVersion"] = str(rv)
    store.apply([Change(resource, meta["namespace"], meta["name"], rv, obj)])
    return obj


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": {"nodeName": NODE, "containers": list(containers), "terminationGracePeriodSeconds": 2, **spec},
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Polls until ``check()`` returns something truthy; fails with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def status(store: MetaStore, name: str) -> dict[str, Any]:
    obj = store.get("pods", "default", name) or {}
    return obj.get("status") or {}


def container(store: MetaStore, name: str, cname: str, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for c in status(store, name).get(key) or ():
        if c["name"] == cname:
            return c
    return {}
