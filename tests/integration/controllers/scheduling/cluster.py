"""A simulated cluster for scheduler and node lifecycle tests: Node objects with status, Lease renewals the
test turns off and on, pods owned by a real (ConfigMap) owner so the garbage collector leaves them be."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient

Obj = dict[str, Any]
T = TypeVar("T")
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "condition") -> T:
    """Polls ``check`` until it returns something truthy; fails with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def condition(obj: Obj, type_: str) -> Obj:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") == type_), {})


class Cluster:
    def __init__(self, api: RESTClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.prefix = namespace  # node names start with it, so tests never share nodes
        self.node_names: list[str] = []
        self._renewing: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    # -- nodes ---------------------------------------------------------------------------------------

    async def add_node(self, suffix: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
                       labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                       annotations: dict[str, str] | None = None, ready: str = "True",
                       unschedulable: bool = False, lease: bool = False) -> str:
        name = f"{self.prefix}-{suffix}"
        now = stamp()
        await self.api.create("v1", "nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                       "capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                       "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                       "message": "simulated", "lastHeartbeatTime": now,
                                       "lastTransitionTime": now}]},
        })
        self.node_names.append(name)
        if lease:
            await self._renew(name)
            self._renewing.add(name)
            if self._renewer is None:
                self._renewer = asyncio.create_task(self._renew_loop())
        return name

    async def node(self, name: str) -> Obj:
        return await self.api.get("v1", "nodes", name)

    def stop_renewing(self, name: str) -> None:
        self._renewing.discard(name)

    def resume_renewing(self, name: str) -> None:
        self._renewing.add(name)

    async def _renew(self, name: str) -> None:
        spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_stamp()}
        try:
            await self.api.patch("coordination.k8s.io/v1", "leases", name, {"spec": spec}, "kube-node-lease")
        except APIError as exc:
            if exc.code != 404:
                raise
            await self.api.create("coordination.k8s.io/v1", "leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec}, "kube-node-lease")

    async def _renew_loop(self) -> None:
        while True:
            for name in list(self._renewing):
                await self._renew(name)
            await asyncio.sleep(0.3)

    # -- pods ----------------------------------------------------------------------------------------

    async def owner(self, name: str) -> Obj:
        """A controller reference to a real object, so the garbage collector keeps the pods."""
        cm = await self.api.create("v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": name}}, self.namespace)
        return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": cm["metadata"]["uid"],
                "controller": True}

    async def create_pod(self, name: str, owner: Obj | None = None, cpu: str | None = None,
                         memory: str | None = None, **spec: Any) -> Obj:
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        meta: Obj = {"name": name, "namespace": self.namespace}
        if owner:
            meta["ownerReferences"] = [owner]
        return await self.api.create("v1", "pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main", "image": "registry.local/app:1",
                                     "resources": {"requests": requests}}], **spec},
        }, self.namespace)

    async def pod(self, name: str) -> Obj:
        return await self.api.get("v1", "pods", name, self.namespace)

    async def bound_node(self, name: str, timeout: float = 10.0) -> str:
        async def check() -> str | None:
            return (await self.pod(name))["spec"].get("nodeName")
        return await eventually(check, timeout, f"pod {name} to be bound")

    async def set_pod_ready(self, name: str) -> Obj:
        """What a node agent reports for a running pod."""
        now = stamp()
        return await self.api.patch("v1", "pods", name, {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}}, self.namespace,
            patch_type="strategic", subresource="status")

    async def close(self) -> None:
        if self._renewer:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        pods = await self.api.list("v1", "pods", self.namespace)
        for p in pods["items"]:
            with contextlib.suppress(APIError):
                await self.api.delete("v1", "pods", p["metadata"]["name"], self.namespace, grace_period_seconds=0)
        for name in self.node_names:
            with contextlib.suppress(APIError):
                await self.api.delete("v1", "nodes", name)
            with contextlib.suppress(APIError):
                await self.api.delete("coordination.k8s.io/v1", "leases", name, "kube-node-lease")


def unique_namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"
