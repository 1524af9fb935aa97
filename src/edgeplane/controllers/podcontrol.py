"""Pods owned by a controller (ReplicaSet, DaemonSet): claiming them, creating them from a template, deleting
them, with the expectations and events every pod-owning controller needs."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

import orjson

from edgeplane.api.errors import APIError
from edgeplane.api.selectors import LabelSelector
from edgeplane.client.informer import Informer, object_key
from edgeplane.client.interface import Client
from edgeplane.controllers.events import EventRecorder
from edgeplane.controllers.expectations import Expectations
from edgeplane.controllers.ownerrefs import (
    adoption_patch,
    controller_ref,
    controller_uid_index,
    reference_to,
    release_patch,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CONTROLLER_INDEX = "ownerrefs/controller-uid"
ORPHAN_INDEX = "ownerrefs/orphans-by-namespace"
# Kubernetes creates pods in batches of 1, 2, 4, ... so a failing template costs one error, not hundreds.
SLOW_START_INITIAL_BATCH = 1
BURST_REPLICAS = 500


def _orphan_namespace(obj: Obj) -> list[str]:
    return [] if controller_ref(obj) else [obj["metadata"].get("namespace", "")]


def index_pods(pods: Informer) -> None:
    pods.add_index(CONTROLLER_INDEX, controller_uid_index)
    pods.add_index(ORPHAN_INDEX, _orphan_namespace)


@functools.lru_cache(maxsize=1024)
def _compiled_selector(text: str) -> LabelSelector:
    return LabelSelector.from_dict(orjson.loads(text))


def selector_of(obj: Obj) -> LabelSelector:
    """The object's spec.selector, compiled once per distinct selector."""
    selector = (obj.get("spec") or {}).get("selector")
    return _compiled_selector(orjson.dumps(selector, option=orjson.OPT_SORT_KEYS).decode())


def copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def owner_key_of(pod: Obj, kind: str) -> str | None:
    """The "namespace/name" key of the pod's controller when it is of ``kind``."""
    ref = controller_ref(pod)
    if ref is None or ref.get("kind") != kind:
        return None
    return f"{pod['metadata'].get('namespace', '')}/{ref['name']}"


class PodControl:
    def __init__(self, client: Client, events: EventRecorder, pods: Informer) -> None:
        self.client = client
        self.events = events
        self.pods = pods
        self.expectations = Expectations(pods)

    async def claim(self, owner: Obj, selector: LabelSelector) -> list[Obj]:
        """The pods ``owner`` controls, after adopting matching orphans and releasing pods that no longer match
        (as client-go's PodControllerRefManager)."""
        m = owner["metadata"]
        uid, namespace = m["uid"], m.get("namespace", "")
        owned: list[Obj] = []
        for pod in self.pods.by_index(CONTROLLER_INDEX, uid):
            if pod["metadata"].get("namespace") != namespace:
                continue
            if selector.matches(pod["metadata"].get("labels")) or pod["metadata"].get("deletionTimestamp"):
                owned.append(pod)
            elif not m.get("deletionTimestamp"):
                await self._patch_ignoring_races(pod, release_patch(pod, uid))
        if m.get("deletionTimestamp"):
            return owned
        for pod in self.pods.by_index(ORPHAN_INDEX, namespace):
            pm = pod["metadata"]
            if pm.get("deletionTimestamp") or not selector.matches(pm.get("labels")):
                continue
            adopted = await self._patch_ignoring_races(pod, adoption_patch(pod, owner))
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _patch_ignoring_races(self, pod: Obj, patch: Obj) -> Obj | None:
        m = pod["metadata"]
        try:
            return await self.client.patch("v1", "pods", m["name"], patch, m.get("namespace", ""))
        except APIError as exc:
            if exc.code in (404, 409):  # changed or gone meanwhile: the next sync sees the new state
                return None
            raise

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
            metadata[field] = copy(tm[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": copy(template.get("spec") or {})}
