"""Informers: a list, then a watch from that list's revision, kept in a local cache; re-list after 410.

Handlers run synchronously for each change, in order; they should only enqueue keys (the work happens
in reconcilers), so one informer can feed many controllers cheaply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.client.interface import Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]  # (event type, old, new)
IndexFunc = Callable[[Obj], list[str]]


def object_key(obj: Obj) -> str:
    m = obj["metadata"]
    ns = m.get("namespace")
    return f"{ns}/{m['name']}" if ns else m["name"]


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


class Informer:
    def __init__(
        self,
        client: Client,
        api_version: str,
        resource: str,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cache: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self._indexes: dict[str, IndexFunc] = {}
        self._index_data: dict[str, defaultdict[str, set[str]]] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.resource_version = ""
        self._backoff = resync_backoff

    # -- setup -------------------------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)
        for obj in self.cache.values():  # late subscribers see the current state as additions
            handler("ADDED", None, obj)

    def add_index(self, name: str, func: IndexFunc) -> None:
        self._indexes[name] = func
        data: defaultdict[str, set[str]] = defaultdict(set)
        for key, obj in self.cache.items():
            for value in func(obj):
                data[value].add(key)
        self._index_data[name] = data

    def by_index(self, name: str, value: str) -> list[Obj]:
        keys = self._index_data[name].get(value, ())
        return [self.cache[k] for k in keys if k in self.cache]

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def list(self, namespace: str = "") -> list[Obj]:
        if not namespace:
            return list(self.cache.values())
        return [o for o in self.cache.values() if o["metadata"].get("namespace") == namespace]

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer {self.resource}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- the loop ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._list()
                while True:  # the server ends watches now and then (timeouts): resume without a list
                    await self._watch()
            except asyncio.CancelledError:
                raise
            except APIError as exc:
                if exc.code != 410:
                    log.warning("informer %s: %s; re-listing", self.resource, exc.message)
                    await asyncio.sleep(self._backoff)
            except Exception as exc:  # connection lost, server restarting: list again shortly
                log.warning("informer %s: %s; re-listing", self.resource, exc)
                await asyncio.sleep(self._backoff)

    async def _list(self) -> None:
        items: list[Obj] = []
        token = ""
        while True:
            page = await self.client.list(
                self.api_version, self.resource, self.namespace, label_selector=self.label_selector,
                field_selector=self.field_selector, limit=500, continue_token=token,
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue", "")
            if not token:
                break
        self.resource_version = page["metadata"]["resourceVersion"]
        fresh = {object_key(o): o for o in items}
        for key, old in list(self.cache.items()):
            if key not in fresh:
                self._apply("DELETED", key, old)
        for key, obj in fresh.items():
            old = self.cache.get(key)
            if old is None:
                self._apply("ADDED", key, obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._apply("MODIFIED", key, obj)
        self._synced.set()

    async def _watch(self) -> None:
        stream = self.client.watch(
            self.api_version, self.resource, self.namespace, resource_version=self.resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector, timeout_seconds=0,
        )
        async for event in stream:
            kind, obj = event["type"], event["object"]
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.resource_version = rv
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self._apply(kind, object_key(obj), obj)

    def _apply(self, kind: str, key: str, obj: Obj) -> None:
        """Handlers get (type, old, new): ADDED (None, obj), MODIFIED (old, obj), DELETED (last, None)."""
        old = self.cache.get(key)
        new: Obj | None
        if kind == "DELETED":
            self.cache.pop(key, None)
            self._unindex(key, old)
            old, new = old or obj, None
        else:
            self._unindex(key, old)
            self.cache[key] = obj
            self._index(key, obj)
            new = obj
            if old is not None and kind == "ADDED":
                kind = "MODIFIED"
        for handler in self.handlers:
            try:
                handler(kind, old, new)
            except Exception:
                log.exception("informer %s handler failed", self.resource)

    def _index(self, key: str, obj: Obj) -> None:
        for name, func in self._indexes.items():
            for value in func(obj):
                self._index_data[name][value].add(key)

    def _unindex(self, key: str, obj: Obj | None) -> None:
        if obj is None:
            return
        for name, func in self._indexes.items():
            for value in func(obj):
                keys = self._index_data[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._index_data[name][value]
