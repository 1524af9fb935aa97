"""Claiming: a controller takes the objects its selector matches (adopting orphans) and lets go of those it
no longer matches, as client-go's ControllerRefManager. Used for pods (ReplicaSets, DaemonSets) and for
ReplicaSets (Deployments)."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from edgeplane.api.errors import APIError
from edgeplane.api.selectors import LabelSelector
from edgeplane.client.informer import Informer, object_key
from edgeplane.client.interface import Client
from edgeplane.controllers.ownerrefs import (
    adoption_patch,
    controller_ref,
    controller_uid_index,
    release_patch,
)

Obj = dict[str, Any]

CONTROLLER_INDEX = "ownerrefs/controller-uid"
ORPHAN_INDEX = "ownerrefs/orphans-by-namespace"


@functools.lru_cache(maxsize=1024)
def _compiled_selector(text: str) -> LabelSelector:
    return LabelSelector.from_dict(orjson.loads(text))


def selector_of(obj: Obj) -> LabelSelector:
    """The object's spec.selector, compiled once per distinct selector."""
    selector = (obj.get("spec") or {}).get("selector")
    return _compiled_selector(orjson.dumps(selector, option=orjson.OPT_SORT_KEYS).decode())


def owner_key_of(pod: Obj, kind: str) -> str | None:
    """The "namespace/name" key of the pod's controller when it is of ``kind``."""
    ref = controller_ref(pod)
    if ref is None or ref.get("kind") != kind:
        return None
    return f"{pod['metadata'].get('namespace', '')}/{ref['name']}"


def _orphan_namespace(obj: Obj) -> list[str]:
    return [] if controller_ref(obj) else [obj["metadata"].get("namespace", "")]


def index_claimable(informer: Informer) -> None:
    """Indexes by controller uid and orphans by namespace, so claiming never scans the whole cache."""
    informer.add_index(CONTROLLER_INDEX, controller_uid_index)
    informer.add_index(ORPHAN_INDEX, _orphan_namespace)


class Claimer:
    def __init__(self, client: Client, informer: Informer, api_version: str, resource: str) -> None:
        self.client = client
        self.informer = informer
        self.api_version = api_version
        self.resource = resource
        index_claimable(informer)

    def controlled_by(self, owner: Obj) -> list[Obj]:
        m = owner["metadata"]
        return [o for o in self.informer.by_index(CONTROLLER_INDEX, m["uid"])
                if o["metadata"].get("namespace") == m.get("namespace")]

    async def claim(self, owner: Obj, selector: LabelSelector) -> list[Obj]:
        """The objects ``owner`` controls after adopting matching orphans and releasing the ones that no longer
        match. An owner being deleted adopts and releases nothing."""
        m = owner["metadata"]
        deleting = bool(m.get("deletionTimestamp"))
        owned: list[Obj] = []
        for obj in self.controlled_by(owner):
            if selector.matches(obj["metadata"].get("labels")) or obj["metadata"].get("deletionTimestamp"):
                owned.append(obj)
            elif not deleting:
                await self._patch(obj, release_patch(obj, m["uid"]))
        if deleting:
            return owned
        for obj in self.informer.by_index(ORPHAN_INDEX, m.get("namespace", "")):
            om = obj["metadata"]
            if om.get("deletionTimestamp") or not selector.matches(om.get("labels")):
                continue
            adopted = await self._patch(obj, adoption_patch(obj, owner))
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _patch(self, obj: Obj, patch: Obj) -> Obj | None:
        m = obj["metadata"]
        try:
            return await self.client.patch(self.api_version, self.resource, m["name"], patch, m.get("namespace", ""))
        except APIError as exc:
            if exc.code in (404, 409):  # changed or gone meanwhile: the next sync sees the new state
                return None
            raise


def owners_to_enqueue(pod_change: tuple[Obj | None, Obj | None], owner_kind: str, owners: Informer) -> list[str]:
    """Keys to reconcile after a pod changed: its controller of ``owner_kind``, or, for an orphan, every owner
    whose selector matches it (one of them may adopt it)."""
    old, new = pod_change
    keys: list[str] = []
    for pod in (old, new):
        if pod is None:
            continue
        owner = owner_key_of(pod, owner_kind)
        if owner is not None:
            keys.append(owner)
        elif pod is new and not pod["metadata"].get("deletionTimestamp"):
            labels = pod["metadata"].get("labels")
            keys.extend(object_key(o) for o in owners.list(pod["metadata"].get("namespace", ""))
                        if selector_of(o).matches(labels))
    return keys

