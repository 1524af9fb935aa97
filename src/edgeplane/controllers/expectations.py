"""Writes a controller made that its informer has not shown it yet (client-go's ControllerExpectations).

A controller that creates pods and is woken again before its cache holds them would count too few pods
and create more. So it notes each pod it creates or deletes, and manages pods again only once the cache
reflects every one of those writes: a created pod is in the cache (or the informer has passed the pod's
revision, for a pod deleted again since), a deleted pod is gone from it or marked for deletion.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from edgeplane.client.informer import Informer

# A write whose event never arrives (a lost watch re-listed past it) must not wedge its controller forever.
EXPIRY_SECONDS = 30.0


@dataclass
class _Pending:
    creations: dict[str, int] = field(default_factory=dict)  # object key -> revision of the create
    deletions: set[str] = field(default_factory=set)
    since: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self._pending: dict[Hashable, _Pending] = {}

    def created(self, controller: Hashable, key: str, revision: str) -> None:
        pending = self._pending.setdefault(controller, _Pending())
        pending.creations[key] = int(revision or 0)
        pending.since = time.monotonic()

    def deleted(self, controller: Hashable, key: str) -> None:
        pending = self._pending.setdefault(controller, _Pending())
        pending.deletions.add(key)
        pending.since = time.monotonic()

    def satisfied(self, controller: Hashable) -> bool:
        pending = self._pending.get(controller)
        if pending is None:
            return True
        cache = self.informer.cache
        seen = int(self.informer.resource_version or 0)
        pending.creations = {k: rv for k, rv in pending.creations.items() if k not in cache and seen < rv}
        pending.deletions = {k for k in pending.deletions
                             if k in cache and not cache[k]["metadata"].get("deletionTimestamp")}
        if (pending.creations or pending.deletions) and time.monotonic() - pending.since < EXPIRY_SECONDS:
            return False
        del self._pending[controller]
        return True

    def forget(self, controller: Hashable) -> None:
        self._pending.pop(controller, None)


class WriteFence:
    """Holds a controller back until its informer shows the writes it made (read your own writes).

    A reconcile that scales ReplicaSets must not decide the next step from a cache that still holds the
    sizes from before its own last update: rollouts would overshoot maxSurge or maxUnavailable.
    """

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self._written: dict[Hashable, tuple[int, float]] = {}

    def wrote(self, controller: Hashable, obj: dict[str, object]) -> None:
        rv = int(str((obj.get("metadata") or {}).get("resourceVersion") or 0))  # type: ignore[union-attr]
        seen = self._written.get(controller, (0, 0.0))[0]
        self._written[controller] = (max(rv, seen), time.monotonic())

    def caught_up(self, controller: Hashable) -> bool:
        entry = self._written.get(controller)
        if entry is None:
            return True
        rv, since = entry
        if int(self.informer.resource_version or 0) >= rv or time.monotonic() - since > EXPIRY_SECONDS:
            del self._written[controller]
            return True
        return False
