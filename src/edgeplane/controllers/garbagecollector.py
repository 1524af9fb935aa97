"""Garbage collection by ownerReferences, as Kubernetes' garbage collector does it.

- background: an object whose owners are all gone is deleted;
- foreground: an owner carrying the foregroundDeletion finalizer has its dependents deleted, and keeps the
  finalizer until no dependent with blockOwnerDeletion is left;
- orphan: an owner carrying the orphan finalizer has its references removed from its dependents, then
  loses the finalizer.

Every served type with list and watch is followed (custom resources too, as their CRDs come and go). The
work queue holds (group, plural, key) of objects to look at; an object's absence is always confirmed
with a live read before its dependents are deleted, since caches of different types lag differently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.api.registry import Registry, ResourceType
from edgeplane.client.informer import Informer, object_key
from edgeplane.controllers.base import Controller
from edgeplane.controllers.ownerrefs import owner_references, owner_uid_index, release_patch
from edgeplane.controllers.resourcetypes import registry_of, served_types, type_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TypeKey = tuple[str, str]  # (group, plural)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
OWNER_INDEX = "ownerrefs/owner-uid"
REGISTRY_POLL_SECONDS = 1.0
# The metadata the collector acts on; changes elsewhere (pod status, mostly) are not its business.
_GRAPH_FIELDS = ("ownerReferences", "deletionTimestamp", "finalizers")


class GarbageCollector(Controller):
    name = "garbage-collector"
    workers = 4

    def setup(self) -> None:
        self.registry: Registry = registry_of(self.client)
        self.watched: dict[TypeKey, tuple[ResourceType, Informer]] = {}
        self._private: dict[TypeKey, Informer] = {}  # custom resources: stopped when their CRD goes
        self._generation = -1
        self._follow_types()

    async def start(self) -> None:
        await super().start()
        self._tasks.append(asyncio.create_task(self._poll_registry(), name=f"{self.name}-types"))

    async def stop(self) -> None:
        await super().stop()
        for informer in self._private.values():
            await informer.stop()
        self._private.clear()

    # -- following the served types ---------------------------------------------------------------------

    async def _poll_registry(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_POLL_SECONDS)
            self._follow_types()

    def _follow_types(self) -> None:
        if self.registry.generation == self._generation:
            return
        self._generation = self.registry.generation
        current = {(rt.group, rt.plural): rt for rt in served_types(self.registry)}
        for key in [k for k in self.watched if k not in current]:
            del self.watched[key]
            private = self._private.pop(key, None)
            if private is not None:
                task = asyncio.get_running_loop().create_task(private.stop())
                task.add_done_callback(lambda t: t.exception())
        for key, rt in current.items():
            if key in self.watched:
                continue
            if rt.is_crd:
                informer = Informer(self.client, rt.api_version, rt.plural)
                self._private[key] = informer
            else:
                informer = self.informer(rt.api_version, rt.plural)
            informer.add_index(OWNER_INDEX, owner_uid_index)
            self.watched[key] = (rt, informer)
            informer.add_handler(self._handler(key))
            if rt.is_crd:
                informer.start()

    def _handler(self, type_key: TypeKey) -> Any:
        def changed(kind: str, old: Obj | None, new: Obj | None) -> None:
            obj = new if new is not None else old
            assert obj is not None
            if new is None:
                self._enqueue_dependents(obj["metadata"].get("uid", ""))
                self._enqueue_owners(obj)
                return
            m = new["metadata"]
            before = (old or {}).get("metadata") or {}
            if old is not None and all(before.get(f) == m.get(f) for f in _GRAPH_FIELDS):
                return  # a status or spec change: nothing the collector looks at
            if m.get("ownerReferences") or (m.get("deletionTimestamp") and _gc_finalizers(new)):
                self.queue.add((*type_key, object_key(new)))
            if m.get("deletionTimestamp") and not before.get("deletionTimestamp"):
                self._enqueue_owners(new)  # a foreground owner may be waiting for this one
        return changed

    def _enqueue_dependents(self, uid: str) -> None:
        for type_key, (_, informer) in self.watched.items():
            for dependent in informer.by_index(OWNER_INDEX, uid):
                self.queue.add((*type_key, object_key(dependent)))

    def _enqueue_owners(self, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace", "")
        for ref in owner_references(obj):
            rt = type_of(self.registry, ref.get("apiVersion", ""), ref.get("kind", ""))
            if rt is not None:
                self.queue.add((rt.group, rt.plural, f"{namespace}/{ref['name']}" if rt.namespaced else ref["name"]))

    def _dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        return [(rt, obj) for rt, informer in self.watched.values() for obj in informer.by_index(OWNER_INDEX, uid)]

    # -- reconciling ------------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        group, plural, obj_key = key
        entry = self.watched.get((group, plural))
        if entry is None:
            return
        rt, informer = entry
        obj = informer.get(obj_key)
        if obj is None:
            return
        m = obj["metadata"]
        finalizers = m.get("finalizers") or []
        if m.get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(obj)
                await self._remove_finalizer(rt, obj, ORPHAN)
            if FOREGROUND in finalizers and not await self._delete_dependents(obj):
                await self._remove_finalizer(rt, obj, FOREGROUND)
        if m.get("ownerReferences"):
            await self._collect_if_orphaned(rt, obj)

    async def _collect_if_orphaned(self, rt: ResourceType, obj: Obj) -> None:
        """Deletes ``obj`` when none of its owners exists any more (attemptToDeleteItem)."""
        m = obj["metadata"]
        if m.get("deletionTimestamp") and FOREGROUND not in (m.get("finalizers") or []):
            return  # being deleted already
        solid, dangling, waiting = [], [], []
        for ref in owner_references(obj):
            known, owner = await self._live_owner(ref, m.get("namespace", ""))
            if not known:
                return  # an owner of a type we cannot look up: never delete on a guess
            if owner is None:
                dangling.append(ref)
            elif owner["metadata"].get("deletionTimestamp") and FOREGROUND in (owner["metadata"].get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling:
                gone = {r["uid"] for r in dangling}
                refs = [r for r in owner_references(obj) if r["uid"] not in gone]
                await self.client.patch(rt.api_version, rt.plural, m["name"],
                                        {"metadata": {"resourceVersion": m["resourceVersion"], "ownerReferences": refs}},
                                        m.get("namespace", ""))
            return
        if m.get("deletionTimestamp"):
            return
        has_dependents = bool(self._dependents(m["uid"]))
        policy = "Foreground" if waiting and has_dependents else "Background"
        log.info("garbage collector: deleting %s %s (owners gone), propagation %s", rt.kind, object_key(obj), policy)
        await self._delete(rt, obj, policy)

    async def _live_owner(self, ref: Obj, namespace: str) -> tuple[bool, Obj | None]:
        """(whether the owner's type is served, the owner if it exists with the referenced uid)."""
        rt = type_of(self.registry, ref.get("apiVersion", ""), ref.get("kind", ""))
        if rt is None:
            return False, None
        ns = namespace if rt.namespaced else ""
        entry = self.watched.get((rt.group, rt.plural))
        if entry is not None:
            cached = entry[1].get(f"{ns}/{ref['name']}" if ns else ref["name"])
            if cached is not None and cached["metadata"].get("uid") == ref.get("uid"):
                return True, cached
        try:
            live = await self.client.get(rt.api_version, rt.plural, ref["name"], ns)
        except APIError as exc:
            if exc.code == 404:
                return True, None
            raise
        return True, live if live["metadata"].get("uid") == ref.get("uid") else None

    async def _delete_dependents(self, owner: Obj) -> bool:
        """Starts deleting every dependent; True while some dependent that blocks the owner's deletion exists."""
        uid = owner["metadata"]["uid"]
        blocking = False
        for rt, dependent in self._dependents(uid):
            ref = next(r for r in owner_references(dependent) if r.get("uid") == uid)
            if ref.get("blockOwnerDeletion"):
                blocking = True
            if not dependent["metadata"].get("deletionTimestamp"):
                nested = bool(self._dependents(dependent["metadata"]["uid"]))
                await self._delete(rt, dependent, "Foreground" if nested else "Background")
        return blocking

    async def _orphan_dependents(self, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for rt, dependent in self._dependents(uid):
            dm = dependent["metadata"]
            try:
                await self.client.patch(rt.api_version, rt.plural, dm["name"], release_patch(dependent, uid),
                                        dm.get("namespace", ""))
            except APIError as exc:
                if exc.code != 404:
                    raise

    async def _delete(self, rt: ResourceType, obj: Obj, policy: str) -> None:
        m = obj["metadata"]
        try:
            await self.client.delete(rt.api_version, rt.plural, m["name"], m.get("namespace", ""),
                                     propagation_policy=policy, precondition_uid=m["uid"])
        except APIError as exc:
            if exc.code not in (404, 409):  # gone, or replaced by a namesake: nothing of ours to delete
                raise

    async def _remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        m = obj["metadata"]
        try:
            live = await self.client.get(rt.api_version, rt.plural, m["name"], m.get("namespace", ""))
        except APIError as exc:
            if exc.code == 404:
                return
            raise
        finalizers = live["metadata"].get("finalizers") or []
        if live["metadata"].get("uid") != m["uid"] or finalizer not in finalizers:
            return
        live["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
        await self.client.update(rt.api_version, rt.plural, live, m.get("namespace", ""))


def _gc_finalizers(obj: Obj) -> bool:
    finalizers = obj["metadata"].get("finalizers") or ()
    return FOREGROUND in finalizers or ORPHAN in finalizers
