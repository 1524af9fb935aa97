"""An in-process client: the same calls as RESTClient, served by the API server's own storage.

Controllers that run inside `edgeplane cloud` use it to skip HTTP and TLS on every call while keeping
the API's semantics: validation, defaults, admission, optimistic concurrency and watch filtering all
run exactly as for a remote client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from multidict import MultiDict

from edgeplane.api import errors
from edgeplane.api.registry import ResourceType
from edgeplane.apiserver.cacher import CacheEvent
from edgeplane.apiserver.context import APIContext
from edgeplane.apiserver.handlers import (
    make_patcher,
    scale_of,
    selector_filter,
    status_success,
    with_replicas,
)
from edgeplane.apiserver.objectmeta import parse_resource_version
from edgeplane.apiserver.storage import DeleteOptions, WriteOptions
from edgeplane.client.rest import PATCH_CONTENT_TYPES, ResourceExpiredError


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class _QueueSink:
    """Watch-cache sink feeding one local watch."""

    def __init__(self, namespace: str, keep: Any) -> None:
        self.namespace = namespace
        self.keep = keep
        self.start_revision = 0
        self.queue: asyncio.Queue[list[tuple[str, dict[str, Any]]] | None] = asyncio.Queue()

    def deliver(self, events: list[CacheEvent]) -> None:
        out = []
        for ev in events:
            if self.namespace and ev.namespace != self.namespace:
                continue
            kind = ev.type
            if self.keep is not None:
                now = ev.type != "DELETED" and self.keep(ev.obj)
                before = (ev.obj if ev.type == "DELETED" else ev.prev) is not None and self.keep(
                    ev.obj if ev.type == "DELETED" else ev.prev
                )
                if ev.type == "DELETED":
                    kind = "DELETED" if before else ""
                elif now:
                    kind = "MODIFIED" if before else "ADDED"
                else:
                    kind = "DELETED" if before else ""
            if kind:
                out.append((kind, ev.obj))
        if out:
            self.queue.put_nowait(out)

    def fail(self, status: dict[str, Any]) -> None:
        self.queue.put_nowait(None)


class LocalClient:
    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx

    def _type(self, api_version: str, resource: str) -> ResourceType:
        group, version = _split(api_version)
        return self.ctx.resource(group, version, resource)

    async def __aenter__(self) -> LocalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> dict[str, Any]:
        rt = self._type(api_version, resource)
        return await self.ctx.storage(rt).get(namespace, name)

    async def list(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> dict[str, Any]:
        rt = self._type(api_version, resource)
        keep = selector_filter(rt, MultiDict(labelSelector=label_selector, fieldSelector=field_selector))
        if resource_version == "0" and not continue_token and not limit:
            cacher = await self.ctx.cacher(rt)
            items, revision, token = cacher.snapshot(namespace, keep), cacher.revision, ""
        else:
            rv = parse_resource_version(resource_version) if resource_version != "0" else 0
            page = await self.ctx.storage(rt).list_page(namespace, limit, continue_token, rv, keep)
            items, revision, token = page.items, page.revision, page.continue_token
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if token:
            metadata["continue"] = token
        return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": items}

    async def create(self, api_version: str, resource: str, body: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        rt = self._type(api_version, resource)
        return (await self.ctx.storage(rt).create(namespace, body, WriteOptions(field_validation="Strict"))).obj

    async def update(
        self, api_version: str, resource: str, body: dict[str, Any], namespace: str = "", subresource: str = ""
    ) -> dict[str, Any]:
        rt = self._type(api_version, resource)
        name = (body.get("metadata") or {}).get("name", "")
        result = await self.ctx.storage(rt).update(namespace, name, body, subresource, WriteOptions())
        return result.obj

    async def patch(
        self,
        api_version: str,
        resource: str,
        name: str,
        patch: dict[str, Any] | list[Any],
        namespace: str = "",
        *,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str = "",
        force: bool = False,
    ) -> dict[str, Any]:
        rt = self._type(api_version, resource)
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"patch_type {patch_type!r} is not one of {', '.join(PATCH_CONTENT_TYPES)}")
        patcher = make_patcher(rt, PATCH_CONTENT_TYPES[patch_type], patch)
        storage = self.ctx.storage(rt)
        if subresource == "scale":
            def patch_scale(current: dict[str, Any]) -> dict[str, Any]:
                replicas = (patcher(scale_of(rt, current)).get("spec") or {}).get("replicas", 0)
                return with_replicas(rt, current, replicas)

            result = await storage.guaranteed_update(namespace, name, patch_scale, "", WriteOptions())
            return scale_of(rt, result.obj)
        return (await storage.guaranteed_update(namespace, name, patcher, subresource, WriteOptions())).obj

    async def bind(self, namespace: str, name: str, node_name: str) -> dict[str, Any]:
        rt = self._type("v1", "pods")
        return await self.ctx.storage(rt).bind(namespace, name, node_name, WriteOptions())

    async def delete(
        self,
        api_version: str,
        resource: str,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        precondition_uid: str = "",
    ) -> dict[str, Any]:
        rt = self._type(api_version, resource)
        opts = DeleteOptions(grace_period_seconds, propagation_policy or None, precondition_uid or None)
        obj, gone = await self.ctx.storage(rt).delete(namespace, name, opts)
        return status_success(rt, name, obj["metadata"].get("uid", "")) if gone else obj

    async def watch(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 0,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        rt = self._type(api_version, resource)
        keep = selector_filter(rt, MultiDict(labelSelector=label_selector, fieldSelector=field_selector))
        cacher = await self.ctx.cacher(rt)
        sink = _QueueSink(namespace, keep)
        if resource_version in ("", "0"):
            for obj in cacher.snapshot(namespace, keep):
                yield {"type": "ADDED", "object": obj}
            sink.start_revision = cacher.revision
        else:
            rv = int(resource_version)
            if rv < self.ctx.store.compacted_revision:
                raise ResourceExpiredError(f"too old resource version: {rv} ({self.ctx.store.compacted_revision})")
            backlog = cacher.events_after(rv)
            if backlog is None:
                raise ResourceExpiredError(f"too old resource version: {rv} ({cacher.ring_start})")
            sink.start_revision = max(rv, cacher.revision)
            sink.deliver(backlog)
        cacher.add(sink)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds if timeout_seconds else None
        try:
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    batch = await asyncio.wait_for(sink.queue.get(), remaining)
                except TimeoutError:
                    return
                if batch is None:
                    raise errors.gone("the watch cache was reset; please re-list")
                for kind, obj in batch:
                    yield {"type": kind, "object": obj}
        finally:
            cacher.remove(sink)
