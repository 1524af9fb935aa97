"""Writes what an edge node sends up, through the API storage and under the node's own identity.

Each write is authorized against the node policy exactly as if the node had made the request over the
REST API, so a node can only touch its own Node, its Lease, its pods' status and deletion, and events.
The writes are idempotent: a repeated message (the edge resends what was not acknowledged) has no
further effect.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from edgeplane.api import errors
from edgeplane.apiserver.auth import NODE_LEASE_NAMESPACE, Authorizer, RequestAttributes, UserInfo
from edgeplane.apiserver.context import APIContext
from edgeplane.apiserver.storage import DeleteOptions, WriteOptions, registry_prefix

log = logging.getLogger(__name__)

AUTONOMY_ANNOTATION = "node.openyurt.io/autonomy-duration"
NODEPOOL_LABEL = "apps.openyurt.io/nodepool"
LEASE_DURATION_SECONDS = 40
_RETRYABLE = frozenset({404, 409, 429, 500, 503, 504})


class UpstreamError(Exception):
    """An upstream message that was not written; ``retry`` says whether sending it again may succeed."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class UpstreamWriter:
    def __init__(self, ctx: APIContext, authorizer: Authorizer) -> None:
        self.ctx = ctx
        self.authorizer = authorizer
        self._handlers = {
            "status": self._status,
            "lease": self._lease,
            "event": self._event,
            "register": self._register,
            "podDeleted": self._pod_deleted,
        }

    async def write(self, user: UserInfo, node: str, kind: str, body: dict[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            raise UpstreamError(f"unknown upstream kind {kind!r}", retry=False)
        if not isinstance(body, dict):
            raise UpstreamError(f"{kind}: body must be an object", retry=False)
        try:
            await handler(user, node, body)
        except errors.APIError as exc:
            raise UpstreamError(f"{kind}: {exc.message}", retry=exc.code in _RETRYABLE) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"{kind}: malformed body ({type(exc).__name__}: {exc})", retry=False) from None

    # -- authorization -------------------------------------------------------------------------------

    def _authorize(self, user: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "",
                   subresource: str = "", group: str = "", object_node: str | None = None) -> None:
        attrs = RequestAttributes(verb=verb, group=group, resource=resource, subresource=subresource,
                                  namespace=namespace, name=name)
        allowed, reason = self.authorizer.authorize(user, attrs, object_node)
        if not allowed:
            log.info("hub: refused %s: %s", user.name, reason)
            raise errors.forbidden_request(user.name, verb, resource, group, name, namespace)

    def _storage(self, api_version: str, resource: str) -> Any:
        group, _, version = api_version.rpartition("/")
        return self.ctx.storage(self.ctx.resource(group, version, resource))

    async def _current_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        rt = self.ctx.resource("", "v1", "pods")
        cacher = await self.ctx.cacher(rt)
        return cacher.objects.get(f"{registry_prefix(rt)}{namespace}/{name}")

    # -- kinds ---------------------------------------------------------------------------------------

    async def _status(self, user: UserInfo, node: str, body: dict[str, Any]) -> None:
        resource, namespace, name = body["resource"], body.get("namespace", ""), body["name"]
        status, uid = body["status"], body.get("uid", "")
        if not isinstance(status, dict):
            raise ValueError("status must be an object")
        if resource == "pods":
            pod = await self._current_pod(namespace, name)
            if pod is None or (uid and pod["metadata"].get("uid") != uid):
                return  # that pod is gone (or replaced by a newer one): its status has nowhere to go
            self._authorize(user, "patch", "pods", namespace, name, "status",
                            object_node=(pod.get("spec") or {}).get("nodeName"))
            storage = self._storage("v1", "pods")
        elif resource == "nodes":
            self._authorize(user, "patch", "nodes", "", name, "status")
            storage = self._storage("v1", "nodes")
        else:
            raise ValueError(f"status of {resource!r} cannot be reported")

        def set_status(current: dict[str, Any]) -> dict[str, Any]:
            if uid and current["metadata"].get("uid") != uid:
                return current  # replaced meanwhile: leave the new object alone
            current["status"] = status
            return current

        try:
            await storage.guaranteed_update(namespace, name, set_status, "status", WriteOptions())
        except errors.APIError as exc:
            if exc.code == 404 and resource == "pods":
                return  # deleted meanwhile
            raise

    async def _lease(self, user: UserInfo, node: str, body: dict[str, Any]) -> None:
        storage = self._storage("coordination.k8s.io/v1", "leases")
        group = "coordination.k8s.io"
        now = _micro_time()
        try:
            lease = await storage.get(NODE_LEASE_NAMESPACE, node)
        except errors.APIError as exc:
            if exc.code != 404:
                raise
            self._authorize(user, "create", "leases", NODE_LEASE_NAMESPACE, node, group=group)
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": node, "namespace": NODE_LEASE_NAMESPACE},
                     "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                              "renewTime": now}}
            await storage.create(NODE_LEASE_NAMESPACE, lease, WriteOptions())
            return
        self._authorize(user, "update", "leases", NODE_LEASE_NAMESPACE, node, group=group)
        spec = lease.setdefault("spec", {})
        spec.update(holderIdentity=node, leaseDurationSeconds=LEASE_DURATION_SECONDS, renewTime=now)
        lease["metadata"].pop("resourceVersion", None)  # renewal wins over whatever was there
        await storage.update(NODE_LEASE_NAMESPACE, node, lease, "", WriteOptions())

    async def _event(self, user: UserInfo, node: str, body: dict[str, Any]) -> None:
        namespace = body["metadata"].get("namespace") or "default"
        self._authorize(user, "create", "events", namespace, body["metadata"].get("name", ""))
        try:
            await self._storage("v1", "events").create(namespace, dict(body), WriteOptions())
        except errors.APIError as exc:
            if exc.code != 409:
                raise  # AlreadyExists: a resend of an event that was written

    async def _pod_deleted(self, user: UserInfo, node: str, body: dict[str, Any]) -> None:
        namespace, name, uid = body["namespace"], body["name"], body["uid"]
        pod = await self._current_pod(namespace, name)
        if pod is None or pod["metadata"].get("uid") != uid:
            return  # already gone
        self._authorize(user, "delete", "pods", namespace, name,
                        object_node=(pod.get("spec") or {}).get("nodeName"))
        try:
            await self._storage("v1", "pods").delete(namespace, name, DeleteOptions(0, None, uid))
        except errors.APIError as exc:
            if exc.code not in (404, 409):  # gone, or the name now belongs to a newer pod
                raise

    async def _register(self, user: UserInfo, node: str, body: dict[str, Any]) -> None:
        """Creates the Node (labels, node pool, autonomy annotation) or merges them into an existing one."""
        labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}
        labels.setdefault("kubernetes.io/hostname", node)
        labels.setdefault("kubernetes.io/os", "linux")
        if body.get("nodepool"):
            labels[NODEPOOL_LABEL] = str(body["nodepool"])
        annotations = {str(k): str(v) for k, v in (body.get("annotations") or {}).items()}
        annotations.setdefault(AUTONOMY_ANNOTATION, "0")
        storage = self._storage("v1", "nodes")
        try:
            await storage.get("", node)
        except errors.APIError as exc:
            if exc.code != 404:
                raise
            self._authorize(user, "create", "nodes", "", node)
            obj = {"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": node, "labels": labels, "annotations": annotations}, "spec": {}}
            try:
                await storage.create("", obj, WriteOptions())
                return
            except errors.APIError as create_exc:
                if create_exc.code != 409:
                    raise
        self._authorize(user, "update", "nodes", "", node)

        def merge(current: dict[str, Any]) -> dict[str, Any]:
            m = current["metadata"]
            m["labels"] = {**(m.get("labels") or {}), **labels}
            # An operator's later choice (e.g. autonomy turned off) wins over the registration default.
            m["annotations"] = {**annotations, **(m.get("annotations") or {})}
            return current

        await storage.guaranteed_update("", node, merge, "", WriteOptions())
