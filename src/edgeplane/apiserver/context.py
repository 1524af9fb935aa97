"""What every request handler shares: the type registry, the store, per-type storage and watch caches."""

from __future__ import annotations

import asyncio
from typing import Any

from edgeplane.api import errors
from edgeplane.api.registry import Registry, ResourceType
from edgeplane.apiserver.cacher import Cacher
from edgeplane.apiserver.storage import ResourceStorage, decode, registry_prefix
from edgeplane.store.interface import Store


class APIContext:
    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self._storages: dict[tuple[str, str, str], ResourceStorage] = {}
        self._cachers: dict[str, Cacher] = {}
        self._cacher_lock = asyncio.Lock()
        self.server_address = ""

    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, version, plural)
        if rt is None:
            raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
        return rt

    def storage(self, rt: ResourceType) -> ResourceStorage:
        key = (rt.group, rt.version, rt.plural)
        storage = self._storages.get(key)
        if storage is None or storage.rt is not rt:
            storage = ResourceStorage(rt, self.store, [self._namespace_lifecycle])
            self._storages[key] = storage
        return storage

    async def cacher(self, rt: ResourceType) -> Cacher:
        prefix = registry_prefix(rt)
        cacher = self._cachers.get(prefix)
        if cacher is not None:
            return cacher
        async with self._cacher_lock:
            cacher = self._cachers.get(prefix)
            if cacher is None:
                cacher = Cacher(self.store, prefix, rt.namespaced)
                await cacher.start()
                self._cachers[prefix] = cacher
        return cacher

    async def stop(self) -> None:
        for cacher in self._cachers.values():
            await cacher.stop()
        self._cachers.clear()

    # -- admission -----------------------------------------------------------------------------------

    async def namespace(self, name: str) -> dict[str, Any] | None:
        """A namespace from the watch cache, or from the store when the cache has not seen it yet."""
        ns_type = self.registry.get("", "v1", "namespaces")
        assert ns_type is not None
        cacher = await self.cacher(ns_type)
        key = registry_prefix(ns_type) + name
        obj = cacher.objects.get(key)
        if obj is None:
            kv = await self.store.get(key)
            obj = decode(kv) if kv else None
        return obj

    async def _namespace_lifecycle(
        self, op: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """New objects need a namespace that exists and is not being deleted (NamespaceLifecycle)."""
        if op != "create" or not rt.namespaced:
            return
        name = obj["metadata"].get("namespace", "")
        ns = await self.namespace(name)
        if ns is None:
            raise errors.not_found("namespaces", "", name)
        if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.APIError(
                403,
                "Forbidden",
                f'{rt.plural} "{obj["metadata"].get("name", "")}" is forbidden: unable to create new content in '
                f"namespace {name} because it is being terminated",
                name=obj["metadata"].get("name", ""),
                kind=rt.plural,
            )
