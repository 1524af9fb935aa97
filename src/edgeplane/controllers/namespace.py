"""Deletes everything in a Namespace that is being deleted, then lets the namespace go.

Deleting a Namespace only marks it (Terminating) while its spec.finalizers list "kubernetes". This
controller deletes the content of every namespaced type the server serves, waits until nothing is left
(pods end gracefully, finalizers run), then removes its finalizer, and the API server deletes the
Namespace. Conditions on the namespace say what is still in the way, as Kubernetes reports them.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.apiserver.objectmeta import now_rfc3339
from edgeplane.controllers.base import Controller
from edgeplane.controllers.resourcetypes import registry_of, served_types

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FINALIZER = "kubernetes"
# How soon to look again while content is still going away (pods ending gracefully, finalizers running).
RECHECK_SECONDS = 0.5


class NamespaceController(Controller):
    name = "namespace-controller"

    def setup(self) -> None:
        self.registry = registry_of(self.client)
        self.namespaces = self.informer("v1", "namespaces")
        self.namespaces.add_handler(self._namespace_changed)

    def _namespace_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and new["metadata"].get("deletionTimestamp"):
            self.enqueue(new)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, str)
        ns = self.namespaces.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining: dict[str, int] = {}
        finalizers: set[str] = set()
        for rt in served_types(self.registry, ("list", "delete")):
            if not rt.namespaced:
                continue
            items = (await self.client.list(rt.api_version, rt.plural, key))["items"]
            for obj in items:
                m = obj["metadata"]
                finalizers.update(m.get("finalizers") or ())
                if not m.get("deletionTimestamp"):
                    await self._delete(rt.api_version, rt.plural, m, key)
            if items:
                remaining[f"{rt.plural}.{rt.group}" if rt.group else rt.plural] = len(items)
        if remaining:
            await self._report(ns, remaining, sorted(finalizers))
            self.queue.add_after(key, RECHECK_SECONDS)
            return
        await self._finalize(key)

    async def _delete(self, api_version: str, plural: str, m: Obj, namespace: str) -> None:
        try:
            await self.client.delete(api_version, plural, m["name"], namespace, propagation_policy="Background",
                                     precondition_uid=m["uid"])
        except APIError as exc:
            if exc.code not in (404, 409):
                raise

    async def _report(self, ns: Obj, remaining: dict[str, int], finalizers: list[str]) -> None:
        """NamespaceContentRemaining / NamespaceFinalizersRemaining conditions, as kubectl describe shows them."""
        content = ", ".join(f"{name} has {count} resource instances" for name, count in sorted(remaining.items()))
        wanted = {
            "NamespaceContentRemaining": ("True", "SomeResourcesRemain", f"Some resources are remaining: {content}"),
            "NamespaceFinalizersRemaining": (
                ("True", "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: "
                 f"{', '.join(finalizers)}") if finalizers else ("False", "ContentHasNoFinalizers",
                                                                   "All content-preserving finalizers finished")),
        }
        status = dict(ns.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") not in wanted]
        current = {c.get("type"): c for c in status.get("conditions") or []}
        for type_, (state, reason, message) in wanted.items():
            old = current.get(type_) or {}
            changed = (old.get("status"), old.get("reason"), old.get("message")) != (state, reason, message)
            conditions.append({"type": type_, "status": state, "reason": reason, "message": message,
                               "lastTransitionTime": now_rfc3339() if changed else old.get("lastTransitionTime")})
        if conditions == status.get("conditions"):
            return
        status["conditions"] = conditions
        try:
            await self.client.patch("v1", "namespaces", ns["metadata"]["name"], {"status": status})
        except APIError as exc:
            if exc.code != 404:
                raise

    async def _finalize(self, name: str) -> None:
        """Takes the "kubernetes" finalizer out; with none left the API server deletes the namespace."""
        try:
            live = await self.client.get("v1", "namespaces", name)
        except APIError as exc:
            if exc.code == 404:
                return
            raise
        spec = live.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        await self.client.update("v1", "namespaces", live)
        log.info("namespace %s: content deleted, finalized", name)
