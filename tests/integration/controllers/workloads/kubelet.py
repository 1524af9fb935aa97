"""Simulated nodes for workload tests: Node objects plus a fake kubelet that plays the node side of pods.

The scheduler binds pods; the fake kubelet reports bound pods Running and, after ``ready_delay``, Ready
through the status subresource, confirms graceful deletions as a kubelet does (delete with grace period
0), and renews its nodes' Leases in kube-node-lease. With ``bind`` it also binds pods nobody has bound (a
pod pinned by node affinity to its node, others round-robin), for a cloud run without a scheduler. It runs
on its own event loop in a thread, so tests drive kubectl synchronously meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient

T = TypeVar("T")
Obj = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_object(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastHeartbeatTime": now(), "lastTransitionTime": now()}]},
    }


def pinned_node(pod: Obj) -> str | None:
    """The node a DaemonSet pod is pinned to through required node affinity on metadata.name."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return str(field["values"][0])
    return None


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


class BackgroundLoop:
    """An asyncio loop in a daemon thread; ``run`` executes a coroutine there and waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[return-value]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FakeKubelet:
    def __init__(self, kubeconfig: Path, ready_delay: float = 0.2, bind: bool = False) -> None:
        self.kubeconfig = kubeconfig
        self.ready_delay = ready_delay
        self.bind = bind
        self.bg = BackgroundLoop()
        self.client: RESTClient | None = None
        self.nodes: list[str] = []
        self._round_robin = itertools.count()
        self._busy: set[str] = set()
        self._task = self.bg.spawn(self._run())
        self._leases = self.bg.spawn(self._renew_leases())

    def close(self) -> None:
        self._task.cancel()
        self._leases.cancel()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.bg.run(self.client.close(), timeout=5)
        self.bg.close()

    def add_node(self, name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> None:
        self.bg.run(self._add_node(node_object(name, labels, taints)))

    async def _add_node(self, node: Obj) -> None:
        client = self._client()
        await client.create("v1", "nodes", node)
        self.nodes.append(node["metadata"]["name"])

    def _client(self) -> RESTClient:
        if self.client is None:
            self.client = RESTClient.from_kubeconfig(self.kubeconfig)
        return self.client

    async def _run(self) -> None:
        while True:
            try:
                client = self._client()
                listed = await client.list("v1", "pods")
                for pod in listed["items"]:
                    self._handle(pod)
                async for event in client.watch("v1", "pods", resource_version=listed["metadata"]["resourceVersion"]):
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._handle(event["object"])
            except asyncio.CancelledError:
                raise
            except Exception:  # the cloud restarts in some tests: list and watch again
                await asyncio.sleep(0.2)

    def _handle(self, pod: Obj) -> None:
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        if m.get("deletionTimestamp"):
            if spec.get("nodeName"):
                self._start(m["uid"] + "/delete", self._confirm_deletion(pod))
        elif not spec.get("nodeName") and self.bind:
            target = pinned_node(pod) or (self.nodes[next(self._round_robin) % len(self.nodes)] if self.nodes else None)
            if target:
                self._start(m["uid"] + "/bind", self._bind(pod, target))
        elif spec.get("nodeName") and not _ready(pod):
            self._start(m["uid"] + "/run", self._run_pod(pod))

    def _start(self, key: str, coro: Coroutine[Any, Any, None]) -> None:
        if key in self._busy:
            coro.close()
            return
        self._busy.add(key)

        async def guarded() -> None:
            try:
                await coro
            except APIError as exc:
                if exc.code not in (404, 409):
                    raise
            finally:
                self._busy.discard(key)

        asyncio.get_running_loop().create_task(guarded())

    async def _renew_leases(self) -> None:
        while True:
            for name in list(self.nodes):
                try:
                    await self._renew(name)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the cloud may be restarting; the next round renews
                    pass
            await asyncio.sleep(2)

    async def _renew(self, name: str) -> None:
        client = self._client()
        renew = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            await client.patch("coordination.k8s.io/v1", "leases", name, {"spec": {"renewTime": renew}},
                               "kube-node-lease")
        except APIError as exc:
            if exc.code != 404:
                raise
            await client.create("coordination.k8s.io/v1", "leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}, "kube-node-lease")

    async def _bind(self, pod: Obj, node: str) -> None:
        m = pod["metadata"]
        path = f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}/binding"
        await self._client().request("POST", path, body={
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": m["name"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    async def _run_pod(self, pod: Obj) -> None:
        m = pod["metadata"]
        client = self._client()
        containers = [{"name": c["name"], "image": c.get("image", ""), "ready": False, "restartCount": 0,
                       "state": {"running": {"startedAt": now()}}} for c in pod["spec"].get("containers") or ()]
        await client.patch("v1", "pods", m["name"], {"status": {
            "phase": "Running", "startTime": now(), "containerStatuses": containers,
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
                           {"type": "Ready", "status": "False", "lastTransitionTime": now()}]}},
            m["namespace"], subresource="status")
        await asyncio.sleep(self.ready_delay)
        for c in containers:
            c["ready"] = True
        await client.patch("v1", "pods", m["name"], {"status": {
            "containerStatuses": containers,
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
                           {"type": "Ready", "status": "True", "lastTransitionTime": now()}]}},
            m["namespace"], subresource="status")

    async def _confirm_deletion(self, pod: Obj) -> None:
        m = pod["metadata"]
        await self._client().delete("v1", "pods", m["name"], m["namespace"], grace_period_seconds=0,
                                    precondition_uid=m["uid"])
