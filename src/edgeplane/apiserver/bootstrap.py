"""What the API server sets up and keeps true by itself: system namespaces, each namespace's "default"
ServiceAccount, and the registration of CustomResourceDefinitions as served types."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from edgeplane.api import errors
from edgeplane.apiserver.cacher import CacheEvent
from edgeplane.apiserver.context import APIContext
from edgeplane.apiserver.objectmeta import now_rfc3339
from edgeplane.apiserver.storage import WriteOptions, registry_prefix

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _Follower:
    """A watch-cache sink inside the server: hands events to a callback (never blocks the dispatcher)."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.start_revision = 0

    def deliver(self, events: list[CacheEvent]) -> None:
        for ev in events:
            self.callback(ev)

    def fail(self, status: dict[str, Any]) -> None:
        log.warning("internal watch ended: %s", status.get("message"))


class Bootstrap:
    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        registry = self.ctx.registry
        crd_type = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        ns_type = registry.get("", "v1", "namespaces")
        assert crd_type is not None and ns_type is not None
        crds = await self.ctx.cacher(crd_type)
        for crd in crds.snapshot(""):
            self._register_crd(crd)
        follower = _Follower(self._on_crd)
        follower.start_revision = crds.revision
        crds.add(follower)

        for name in SYSTEM_NAMESPACES:
            with contextlib.suppress(errors.APIError):
                await self.ctx.storage(ns_type).create(
                    "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, WriteOptions()
                )
        namespaces = await self.ctx.cacher(ns_type)
        await namespaces.wait_for_revision(self.ctx.store.revision, 5)
        for ns in namespaces.snapshot(""):
            await self._ensure_service_account(ns["metadata"]["name"])
        ns_follower = _Follower(self._on_namespace)
        ns_follower.start_revision = namespaces.revision
        namespaces.add(ns_follower)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- namespaces --------------------------------------------------------------------------------------

    def _on_namespace(self, ev: CacheEvent) -> None:
        if ev.type == "ADDED":
            self._spawn(self._ensure_service_account(ev.obj["metadata"]["name"]))

    async def _ensure_service_account(self, namespace: str) -> None:
        sa_type = self.ctx.registry.get("", "v1", "serviceaccounts")
        assert sa_type is not None
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}}
        with contextlib.suppress(errors.APIError):  # exists already, or the namespace went away
            await self.ctx.storage(sa_type).create(namespace, sa, WriteOptions())

    # -- custom resources ----------------------------------------------------------------------------------

    def _register_crd(self, crd: dict[str, Any]) -> bool:
        try:
            self.ctx.registry.add_crd(crd)
            return True
        except Exception as exc:  # an invalid CRD must not stop the server; its status says why
            log.warning("cannot serve CRD %s: %s", crd["metadata"].get("name"), exc)
            return False

    def _on_crd(self, ev: CacheEvent) -> None:
        name = ev.obj["metadata"]["name"]
        if ev.type == "DELETED":
            self._spawn(self._remove_crd(ev.obj))
            return
        if ev.obj["metadata"].get("deletionTimestamp"):
            return
        if self._register_crd(ev.obj) and not _established(ev.obj):
            self._spawn(self._mark_established(name))

    async def _mark_established(self, name: str) -> None:
        crd_type = self.ctx.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crd_type is not None
        now = now_rfc3339()

        def establish(crd: dict[str, Any]) -> dict[str, Any]:
            status = crd.setdefault("status", {})
            spec_names = (crd.get("spec") or {}).get("names") or {}
            status["acceptedNames"] = {k: v for k, v in spec_names.items()}
            status["storedVersions"] = [v["name"] for v in (crd.get("spec") or {}).get("versions", []) if v.get("storage")]
            status["conditions"] = [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now},
            ]
            return crd

        with contextlib.suppress(errors.APIError):
            await self.ctx.storage(crd_type).guaranteed_update("", name, establish, "status", WriteOptions())

    async def _remove_crd(self, crd: dict[str, Any]) -> None:
        """A deleted CRD takes its custom resources with it."""
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        served = [v["name"] for v in spec.get("versions", [])]
        rt = next((t for v in served if (t := self.ctx.registry.get(group, v, plural))), None)
        self.ctx.registry.remove_crd(crd["metadata"]["name"])
        if rt is None:
            return
        prefix = registry_prefix(rt)
        result = await self.ctx.store.range(prefix)
        for kv in result.kvs:
            with contextlib.suppress(Exception):
                await self.ctx.store.delete(kv.key)


def _established(crd: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions", [])
    )
