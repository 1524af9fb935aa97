"""Events for what controllers do, as kubectl describe shows them (core/v1 Events, aggregated by count)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.apiserver.objectmeta import now_rfc3339
from edgeplane.client.interface import Client

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, client: Client, component: str) -> None:
        self.client = client
        self.component = component

    async def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Best effort: an event that cannot be written is logged, never fails the caller."""
        m = obj["metadata"]
        namespace = m.get("namespace") or "default"
        digest = hashlib.sha1(f"{m.get('uid')}{reason}{message}".encode()).hexdigest()[:10]
        name = f"{m['name']}.{digest}"
        now = now_rfc3339()
        try:
            try:
                existing = await self.client.get("v1", "events", name, namespace)
                await self.client.patch("v1", "events", name,
                                        {"count": int(existing.get("count") or 1) + 1, "lastTimestamp": now},
                                        namespace)
                return
            except APIError as exc:
                if exc.code != 404:
                    raise
            await self.client.create("v1", "events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                                   "name": m["name"], "namespace": m.get("namespace", ""),
                                   "uid": m.get("uid", ""), "resourceVersion": m.get("resourceVersion", "")},
                "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component}, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "reportingComponent": self.component,
            }, namespace)
        except APIError as exc:
            log.debug("event %s for %s not recorded: %s", reason, m.get("name"), exc.message)
