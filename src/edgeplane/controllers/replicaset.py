"""Keeps spec.replicas pods of each ReplicaSet running, as Kubernetes' replicaset controller does."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from edgeplane.controllers.base import Controller
from edgeplane.controllers.claiming import owners_to_enqueue, selector_of
from edgeplane.controllers.podcontrol import PodControl, pod_from_template
from edgeplane.controllers.pods import available_in, deletion_order, is_active, is_ready

Obj = dict[str, Any]


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def setup(self) -> None:
        self.replicasets = self.informer("apps/v1", "replicasets")
        self.pods = self.informer("v1", "pods")
        self.control = PodControl(self.client, self.events, self.pods)
        self.replicasets.add_handler(self.enqueue_handler)
        self.pods.add_handler(self._pod_changed)

    def _pod_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for key in owners_to_enqueue((old, new), "ReplicaSet", self.replicasets):
            self.queue.add(key)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, str)
        rs = self.replicasets.get(key)
        if rs is None:
            self.control.expectations.forget(key)
            return
        pods = await self.control.claim(rs, selector_of(rs))
        active = [p for p in pods if is_active(p)]
        if not rs["metadata"].get("deletionTimestamp") and self.control.expectations.satisfied(key):
            await self._manage(rs, key, active)
        await self._update_status(rs, key, active)

    async def _manage(self, rs: Obj, key: str, active: list[Obj]) -> None:
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(active) - want
        if diff < 0:
            template = rs["spec"].get("template") or {}
            prefix = rs["metadata"]["name"] + "-"
            await self.control.create_pods(rs, key, -diff, lambda _: pod_from_template(rs, template, prefix))
        elif diff > 0:
            await self.control.delete_pods(rs, key, deletion_order(active)[:diff])

    async def _update_status(self, rs: Obj, key: str, active: list[Obj]) -> None:
        spec = rs.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = datetime.now(UTC)
        ready = available = fully_labeled = 0
        recheck: float | None = None
        for pod in active:
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_ready(pod):
                ready += 1
                wait = available_in(pod, min_ready, now)
                if wait == 0:
                    available += 1
                elif wait is not None:
                    recheck = wait if recheck is None else min(recheck, wait)
        await self.write_status("apps/v1", "replicasets", rs, dict(
            replicas=len(active), fullyLabeledReplicas=fully_labeled, readyReplicas=ready,
            availableReplicas=available, observedGeneration=rs["metadata"].get("generation", 0),
        ), omit_when_zero=("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
        if recheck is not None:
            self.queue.add_after(key, recheck + 0.05)

