"""The shape every controller shares: informers fill caches, handlers enqueue keys, workers reconcile.

A controller subclass declares its informers in ``setup`` and implements ``reconcile(key)``, which
must be idempotent: it reads the caches, makes the world match, and raises to be retried with
backoff. Keys are whatever the subclass enqueues (usually "namespace/name" of its primary object).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.client.informer import Informer, object_key
from edgeplane.client.interface import Client
from edgeplane.client.workqueue import WorkQueue
from edgeplane.controllers.events import EventRecorder
from edgeplane.controllers.informers import SharedInformers
from edgeplane.controllers.settings import ControllerSettings

log = logging.getLogger(__name__)


class Controller:
    name = "controller"
    workers = 2
    # Replaced by the manager with the process's settings before start().
    settings = ControllerSettings()

    def __init__(self, client: Client, informers: SharedInformers, events: EventRecorder) -> None:
        self.client = client
        self.informers = informers
        self.events = events
        self.queue = WorkQueue()
        self._tasks: list[asyncio.Task[None]] = []

    # -- for subclasses ------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Get informers from ``self.informers`` and add handlers that enqueue keys."""

    async def reconcile(self, key: Hashable) -> None:
        raise NotImplementedError

    def informer(self, api_version: str, resource: str) -> Informer:
        return self.informers.get(api_version, resource)

    def enqueue(self, obj: dict[str, Any] | None) -> None:
        if obj is not None:
            self.queue.add(object_key(obj))

    def enqueue_handler(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.enqueue(new if new is not None else old)

    async def write_status(
        self, api_version: str, resource: str, obj: dict[str, Any], fields: dict[str, Any],
        omit_when_zero: tuple[str, ...] = (),
    ) -> None:
        """Merge ``fields`` into the object's status and write it through the status subresource, only if
        that changes anything; counters in ``omit_when_zero`` are left out at zero, as Kubernetes' omitempty."""
        current = obj.get("status") or {}
        status = {**current, **fields}
        for name in omit_when_zero:
            if not status.get(name):
                status.pop(name, None)
        if status != current:
            await self.client.update(api_version, resource, {**obj, "status": status},
                                     obj["metadata"].get("namespace", ""), subresource="status")

    # -- running -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.setup()
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-{i}"))

    async def stop(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _worker(self) -> None:
        await self.informers.wait_synced()
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except APIError as exc:
                if exc.code not in (404, 409):
                    log.info("%s: %s: %s (retrying)", self.name, key, exc.message)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: reconciling %s failed (retrying)", self.name, key)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)
