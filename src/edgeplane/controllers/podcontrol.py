"""Pods owned by a controller (ReplicaSet, DaemonSet): claiming them, creating them from a template, deleting
them, with the expectations and events every pod-owning controller needs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from edgeplane.api.errors import APIError
from edgeplane.api.selectors import LabelSelector
from edgeplane.client.informer import Informer, object_key
from edgeplane.client.interface import Client
from edgeplane.controllers.claiming import Claimer
from edgeplane.controllers.events import EventRecorder
from edgeplane.controllers.expectations import Expectations
from edgeplane.controllers.ownerrefs import reference_to

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Kubernetes creates pods in batches of 1, 2, 4, ... so a failing template costs one error, not hundreds.
SLOW_START_INITIAL_BATCH = 1
BURST_REPLICAS = 500


def deep_copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


class PodControl:
    def __init__(self, client: Client, events: EventRecorder, pods: Informer) -> None:
        self.client = client
        self.events = events
        self.pods = pods
        self.expectations = Expectations(pods)
        self.claimer = Claimer(client, pods, "v1", "pods")

    async def claim(self, owner: Obj, selector: LabelSelector) -> list[Obj]:
        return await self.claimer.claim(owner, selector)

    async def create_pods(self, owner: Obj, key: str, count: int, make: Callable[[int], Obj]) -> int:
        """Creates ``count`` pods built by ``make(i)`` in slow-start batches; returns how many were created and
        raises the first error after recording it as a FailedCreate event."""
        created = 0
        batch = SLOW_START_INITIAL_BATCH
        count = min(count, BURST_REPLICAS)
        while created < count:
            size = min(batch, count - created)
            results = await asyncio.gather(*(self._create(owner, key, make(created + i)) for i in range(size)),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            created += size - len(errors)
            if errors:
                raise errors[0]
            batch *= 2
        return created

    async def _create(self, owner: Obj, key: str, pod: Obj) -> None:
        namespace = owner["metadata"].get("namespace", "")
        try:
            made = await self.client.create("v1", "pods", pod, namespace)
        except APIError as exc:
            await self.events.record(owner, "Warning", "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.expectations.created(key, object_key(made), made["metadata"].get("resourceVersion", ""))
        await self.events.record(owner, "Normal", "SuccessfulCreate", f"Created pod: {made['metadata']['name']}")

    async def delete_pods(self, owner: Obj, key: str, pods: list[Obj]) -> None:
        results = await asyncio.gather(*(self._delete(owner, key, p) for p in pods), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _delete(self, owner: Obj, key: str, pod: Obj) -> None:
        m = pod["metadata"]
        try:
            await self.client.delete("v1", "pods", m["name"], m.get("namespace", ""), precondition_uid=m["uid"])
        except APIError as exc:
            if exc.code == 404:
                return
            await self.events.record(owner, "Warning", "FailedDelete", f"Error deleting: {exc.message}")
            raise
        self.expectations.deleted(key, object_key(pod))
        await self.events.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {m['name']}")


def pod_from_template(owner: Obj, template: Obj, prefix: str) -> Obj:
    """A new pod as Kubernetes builds one from a controller's template (GetPodFromTemplate)."""
    tm = template.get("metadata") or {}
    metadata: Obj = {"generateName": prefix, "namespace": owner["metadata"].get("namespace", ""),
                     "ownerReferences": [reference_to(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if tm.get(field):
            metadata[field] = deep_copy(tm[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": deep_copy(template.get("spec") or {})}
