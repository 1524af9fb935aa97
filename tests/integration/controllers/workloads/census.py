"""Watches a set of pods while a test changes things, and remembers the extremes: the fewest ready pods and
the most live ones at any moment, and which template versions were live together."""

from __future__ import annotations

import asyncio
from typing import Any

from edgeplane.client.rest import RESTClient
from tests.integration.controllers.workloads.kubelet import FakeKubelet, _ready

Obj = dict[str, Any]


class PodCensus:
    def __init__(self, kubelet: FakeKubelet, namespace: str, selector: str, version_label: str) -> None:
        self.bg = kubelet.bg
        self.kubeconfig = kubelet.kubeconfig
        self.namespace = namespace
        self.selector = selector
        self.version_label = version_label
        self.pods: dict[str, Obj] = {}
        self.min_ready: int | None = None
        self.max_live = 0
        self.versions_live_together: set[frozenset[str]] = set()
        self._started = asyncio.Event()
        self._future = self.bg.spawn(self._run())
        self.bg.run(self._wait_started())

    async def _wait_started(self) -> None:
        await self._started.wait()

    async def _run(self) -> None:
        async with RESTClient.from_kubeconfig(self.kubeconfig) as client:
            listed = await client.list("v1", "pods", self.namespace, label_selector=self.selector)
            for pod in listed["items"]:
                self.pods[pod["metadata"]["name"]] = pod
            self._observe()
            self._started.set()
            async for event in client.watch("v1", "pods", self.namespace, label_selector=self.selector,
                                            resource_version=listed["metadata"]["resourceVersion"]):
                name = event["object"]["metadata"]["name"]
                if event["type"] == "DELETED":
                    self.pods.pop(name, None)
                elif event["type"] in ("ADDED", "MODIFIED"):
                    self.pods[name] = event["object"]
                self._observe()

    def _observe(self) -> None:
        live = [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in live if _ready(p))
        self.min_ready = ready if self.min_ready is None else min(self.min_ready, ready)
        self.max_live = max(self.max_live, len(live))
        self.versions_live_together.add(
            frozenset((p["metadata"].get("labels") or {}).get(self.version_label, "") for p in live))

    def stop(self) -> None:
        self._future.cancel()
