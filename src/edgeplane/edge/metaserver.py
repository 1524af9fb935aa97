"""The metaserver: a local, read-only Kubernetes API over the metastore, on 127.0.0.1 only.

Workloads and tools on the node (the official clients, kubectl, informers) read what the node holds —
get, list (label and field selectors) and watch — in Kubernetes' JSON shapes, whether or not the cloud is
reachable, because every answer comes from the metastore. It listens on loopback only and serves no
writes (those go to the cloud through the hub).

The metastore keeps no history, so a watch from a resourceVersion starts with the objects newer than it
(as ADDED events) and then follows live changes; a watch without one starts with every object, as
Kubernetes does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from edgeplane.api import errors
from edgeplane.api.fields import getters_for
from edgeplane.api.selectors import FieldSelector, LabelSelector, SelectorError
from edgeplane.apiserver.discovery import version_info
from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.wire.httpserver import HTTPServer, Request, Response, status_response

log = logging.getLogger(__name__)

DEFAULT_PORT = 10550
WATCH_QUEUE = 1000  # events a slow watcher may have pending before its watch is closed (it re-lists)


@dataclass(frozen=True, slots=True)
class Kind:
    group: str
    version: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# What the node can hold, by plural (the metastore's resource names).
KINDS: dict[str, Kind] = {
    "pods": Kind("", "v1", "Pod", True, ("po",)),
    "configmaps": Kind("", "v1", "ConfigMap", True, ("cm",)),
    "secrets": Kind("", "v1", "Secret", True),
    "services": Kind("", "v1", "Service", True, ("svc",)),
    "endpoints": Kind("", "v1", "Endpoints", True, ("ep",)),
    "nodes": Kind("", "v1", "Node", False, ("no",)),
    "namespaces": Kind("", "v1", "Namespace", False, ("ns",)),
    "leases": Kind("coordination.k8s.io", "v1", "Lease", True),
    "endpointslices": Kind("discovery.k8s.io", "v1", "EndpointSlice", True),
}
_VERBS = ["get", "list", "watch"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(body))


_error = status_response


class MetaServer:
    def __init__(self, metastore: MetaStore, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.store = metastore
        self.host = host
        self.port = port
        self._http: HTTPServer | None = None
        self._watches: set[asyncio.Queue[tuple[tuple[str, str], dict[str, Any]] | None]] = set()

    async def start(self) -> None:
        self.store.subscribe(self._on_change)
        self._http = HTTPServer(self._dispatch, self.host, self.port)
        await self._http.start()
        self.port = self._http.port
        log.info("metaserver listening on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        self.store.unsubscribe(self._on_change)
        for queue in list(self._watches):
            queue.put_nowait(None)
        if self._http is not None:
            await self._http.stop()

    # -- routing -------------------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _error(errors.method_not_allowed(
                f"the edge metaserver is read-only: {request.method} is not allowed; write through the cloud"))
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return _json(version_info())
        if parts == ["healthz"] or parts == ["readyz"] or parts == ["livez"]:
            return Response(body=b"ok", content_type="text/plain")
        if parts == ["api"]:
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}]})
        if parts == ["apis"]:
            return _json(self._groups())
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            found = next((g for g in self._groups()["groups"] if g["name"] == parts[1]), None)
            return _json({"kind": "APIGroup", "apiVersion": "v1", **found}) if found else self._not_found(request)
        else:
            return self._not_found(request)
        if not rest:
            return self._resource_list(group, version) or self._not_found(request)
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource, name = rest[0], (rest[1] if len(rest) > 1 else "")
        kind = KINDS.get(resource)
        if kind is None or (kind.group, kind.version) != (group, version) or len(rest) > 2:
            return self._not_found(request)
        if name:
            return self._get(resource, kind, namespace, name)
        try:
            labels = LabelSelector.parse(request.query.get("labelSelector", ""))
            fields = FieldSelector.parse(request.query.get("fieldSelector", ""))
        except SelectorError as exc:
            return _error(errors.bad_request(f"invalid selector: {exc.message}"))
        getters = getters_for(group, kind.kind)
        unknown = [f for f in fields.fields() if f not in getters]
        if unknown:
            return _error(errors.bad_request(
                f'"{unknown[0]}" is not a known field selector: only "{", ".join(getters)}"'))
        if request.query.get("watch", "").lower() in ("1", "true"):
            try:
                since = request.query.get("resourceVersion", "")
                after = int(since) if since not in ("", "0") else -1
                time_limit = float(request.query.get("timeoutSeconds") or 0) or None
            except ValueError:
                return _error(errors.bad_request(
                    "resourceVersion and timeoutSeconds of a watch must be numbers, got "
                    f"{request.query.get('resourceVersion')!r} and {request.query.get('timeoutSeconds')!r}"))
            return Response(stream=self._watch(resource, kind, namespace, labels, fields, getters, after, time_limit))
        return self._list(resource, kind, namespace, labels, fields, getters)

    def _not_found(self, request: Request) -> Response:
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": f"the server could not find the requested resource ({request.path})",
                      "reason": "NotFound", "details": {}, "code": 404}, 404)

    def _groups(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for kind in KINDS.values():
            if kind.group and kind.version not in groups.setdefault(kind.group, []):
                groups[kind.group].append(kind.version)
        entries = []
        for group, versions in sorted(groups.items()):
            gv = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            entries.append({"name": group, "versions": gv, "preferredVersion": gv[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": entries}

    def _resource_list(self, group: str, version: str) -> Response | None:
        resources = [
            {"name": plural, "singularName": kind.kind.lower(), "namespaced": kind.namespaced, "kind": kind.kind,
             "verbs": _VERBS, **({"shortNames": list(kind.short_names)} if kind.short_names else {})}
            for plural, kind in sorted(KINDS.items()) if (kind.group, kind.version) == (group, version)
        ]
        if not resources:
            return None
        return _json({"kind": "APIResourceList", "apiVersion": "v1",
                      "groupVersion": f"{group}/{version}" if group else version, "resources": resources})

    # -- reads ---------------------------------------------------------------------------------------

    def _get(self, resource: str, kind: Kind, namespace: str, name: str) -> Response:
        obj = self.store.get(resource, namespace, name)
        if obj is None:
            return _error(errors.not_found(resource, kind.group, name))
        return _json(_typed(obj, kind))

    def _selected(
        self, resource: str, namespace: str, labels: LabelSelector, fields: FieldSelector, getters: dict[str, Any],
    ) -> list[dict[str, Any]]:
        out = []
        for obj in self.store.list(resource, namespace or None):
            if _matches(obj, labels, fields, getters):
                out.append(obj)
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))
        return out

    def _list_version(self, resource: str) -> str:
        versions = [v for k, v in self.store.inventory().items() if k.startswith(resource + "/")]
        return str(max(versions, default=0))

    def _list(
        self, resource: str, kind: Kind, namespace: str, labels: LabelSelector, fields: FieldSelector,
        getters: dict[str, Any],
    ) -> Response:
        items = [_typed(o, kind) for o in self._selected(resource, namespace, labels, fields, getters)]
        return _json({"kind": kind.kind + "List", "apiVersion": kind.api_version,
                      "metadata": {"resourceVersion": self._list_version(resource)}, "items": items})

    async def _watch(
        self, resource: str, kind: Kind, namespace: str, labels: LabelSelector, fields: FieldSelector,
        getters: dict[str, Any], after: int, time_limit: float | None,
    ) -> AsyncIterator[bytes]:
        """The watch's events, one JSON line each: what is newer than ``after``, then live changes."""
        queue: asyncio.Queue[tuple[tuple[str, str], dict[str, Any]] | None] = asyncio.Queue(WATCH_QUEUE)
        self._watches.add(queue)
        try:
            for obj in self._selected(resource, namespace, labels, fields, getters):
                held = self.store.version(resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                if held is None or held > after:
                    yield _event("ADDED", obj, kind)
            # The time limit bounds the waits only: a deadline passing while a chunk is being sent must
            # not cut the response short.
            deadline = asyncio.get_running_loop().time() + time_limit if time_limit else None
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await queue.get()
                except TimeoutError:
                    return
                if item is None:
                    return
                change, obj = item
                if resource != change[0]:
                    continue
                meta = obj.get("metadata") or {}
                if namespace and meta.get("namespace") != namespace:
                    continue
                if _matches(obj, labels, fields, getters):
                    yield _event(change[1], obj, kind)
        finally:
            self._watches.discard(queue)

    def _on_change(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        for queue in list(self._watches):
            try:
                queue.put_nowait(((resource, kind), obj))
            except asyncio.QueueFull:  # a watcher that stopped reading: end its watch, it re-lists
                self._watches.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)


def _typed(obj: dict[str, Any], kind: Kind) -> dict[str, Any]:
    if obj.get("kind") == kind.kind and obj.get("apiVersion") == kind.api_version:
        return obj
    return {"apiVersion": kind.api_version, "kind": kind.kind, **obj}


def _event(kind: str, obj: dict[str, Any], type_: Kind) -> bytes:
    return orjson.dumps({"type": kind, "object": _typed(obj, type_)}) + b"\n"


def _matches(obj: dict[str, Any], labels: LabelSelector, fields: FieldSelector, getters: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    if not labels.matches(meta.get("labels") or {}):
        return False
    return fields.empty() or fields.matches(lambda path: getters[path](obj))
