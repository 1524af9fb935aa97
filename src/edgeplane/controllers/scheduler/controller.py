"""The scheduler: binds pending pods to nodes through the binding subresource.

Pods are placed one at a time from the in-memory cache (choose and assume happen without awaiting, so
concurrent workers never double-book a node); only the binding writes run concurrently. A pod that fits
nowhere gets a FailedScheduling event and PodScheduled=False, and waits until a node or a bound pod
changes (or a retry period passes).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, Protocol, cast

from edgeplane.api.errors import APIError
from edgeplane.api.quantity import QuantityError
from edgeplane.apiserver.objectmeta import now_rfc3339
from edgeplane.client.informer import Informer, object_key, split_key
from edgeplane.controllers.base import Controller
from edgeplane.controllers.scheduler.cache import SchedulerCache
from edgeplane.controllers.scheduler.constraints import ConstraintError
from edgeplane.controllers.scheduler.resources import pod_usage

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
_TERMINAL = ("Succeeded", "Failed")


class _Binder(Protocol):
    async def bind(self, namespace: str, name: str, node_name: str) -> dict[str, Any]: ...


def _is_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in _TERMINAL


def _wants_scheduling(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and spec.get("schedulerName", "") in ("", SCHEDULER_NAME)
            and not pod["metadata"].get("deletionTimestamp") and not _is_terminal(pod))


class Scheduler(Controller):
    name = "scheduler"
    workers = 16  # concurrent binding writes; placement itself is serial

    def setup(self) -> None:
        self.cache = SchedulerCache()
        self._waiting: set[str] = set()  # pods no node fits, retried when the cluster changes
        self.nodes: Informer = self.informer("v1", "nodes")
        self.pods: Informer = self.informer("v1", "pods")
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)

    # -- informer events -----------------------------------------------------------------------------

    def _on_node(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None:
            if old is not None:
                self.cache.remove_node(old["metadata"]["name"])
            return
        if self.cache.set_node(new):
            self._retry_waiting()

    def _on_pod(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None or _is_terminal(new):
            if self.cache.remove_pod(object_key(old or new)):  # type: ignore[arg-type]
                self._retry_waiting()
            if new is None:
                self._waiting.discard(object_key(old))  # type: ignore[arg-type]
            return
        key = object_key(new)
        node_name = (new.get("spec") or {}).get("nodeName")
        if node_name:
            self.cache.assumed.discard(key)
            self._waiting.discard(key)
            if self.cache.node_of(key) != node_name:
                try:
                    self.cache.add_pod(key, node_name, pod_usage(new))
                except QuantityError as exc:
                    log.warning("pod %s on %s: %s; its requests are not counted", key, node_name, exc)
        elif _wants_scheduling(new) and (old is None or old.get("spec") != new.get("spec")):
            self.queue.add(key)  # status-only changes (our own PodScheduled=False among them) change nothing

    def _retry_waiting(self) -> None:
        for key in self._waiting:
            self.queue.add(key)
        self._waiting.clear()

    # -- scheduling ----------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        key = str(key)
        pod = self.pods.get(key)
        if pod is None or not _wants_scheduling(pod) or key in self.cache.assumed:
            return
        try:
            usage = pod_usage(pod)
            decision = self.cache.choose(pod["spec"], usage)
        except (ConstraintError, QuantityError) as exc:
            await self._unschedulable(key, pod, str(exc), retry=False)
            return
        if decision.node is None:
            await self._unschedulable(key, pod, decision.message)
            return
        self.cache.assume(key, decision.node, usage)
        namespace, name = split_key(key)
        try:
            await cast(_Binder, self.client).bind(namespace, name, decision.node)
        except APIError as exc:
            self.cache.remove_pod(key)
            if exc.code in (404, 409):
                return  # deleted, being deleted or bound already: the informer brings the new state
            raise
        await self.events.record(pod, "Normal", "Scheduled",
                                 f"Successfully assigned {namespace}/{name} to {decision.node}")

    async def _unschedulable(self, key: str, pod: dict[str, Any], message: str, retry: bool = True) -> None:
        if retry:
            self._waiting.add(key)
            self.queue.add_after(key, self.settings.unschedulable_retry_period)
        await self.events.record(pod, "Warning", "FailedScheduling", message)
        await self._set_scheduled_false(pod, message)

    async def _set_scheduled_false(self, pod: dict[str, Any], message: str) -> None:
        """PodScheduled=False, reason Unschedulable, as kubectl describe shows it; written only on change."""
        for condition in (pod.get("status") or {}).get("conditions") or ():
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False" and \
                    condition.get("message") == message:
                return
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                     "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
        m = pod["metadata"]
        try:
            await self.client.patch("v1", "pods", m["name"], {"status": {"conditions": [condition]}},
                                    m.get("namespace", ""), patch_type="strategic", subresource="status")
        except APIError as exc:
            if exc.code not in (404, 409):
                raise
