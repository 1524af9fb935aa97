"""NodePool controller: pool membership, the pool's labels/annotations/taints on its nodes, and pool status.

A node belongs to the pool named by its ``apps.openyurt.io/nodepool`` label. The controller puts the pool's
``spec.labels``, ``spec.annotations`` and ``spec.taints`` on each member node and records what it put there in
the node's ``nodepool.openyurt.io/previous-attributes`` annotation (as OpenYurt's controller does), so that when
the pool changes or the node leaves it, exactly those are taken off again: labels and annotations a user set
are never removed, and one the pool set is only removed while it still holds the pool's value.

Two kinds of keys go through the queue: ("node", name) makes one node's attributes match its pool, and
("pool", name) recomputes one pool's status (readyNodeNum, unreadyNodeNum, nodes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from edgeplane.api.openyurt import (
    NODEPOOL_API_VERSION,
    NODEPOOL_HOSTNETWORK_LABEL,
    NODEPOOL_LABEL,
    PREVIOUS_ATTRIBUTES_ANNOTATION,
)
from edgeplane.client.informer import Informer
from edgeplane.controllers.base import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]
POOL_INDEX = "nodepool"


@dataclass
class PoolAttributes:
    """What a pool puts on its nodes (the JSON shape of OpenYurt's previous-attributes annotation)."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)

    @classmethod
    def of_pool(cls, pool: Obj | None) -> PoolAttributes:
        if pool is None:
            return cls()
        spec = pool.get("spec") or {}
        labels = dict(spec.get("labels") or {})
        if spec.get("hostNetwork"):
            labels[NODEPOOL_HOSTNETWORK_LABEL] = "true"
        taints = [{k: v for k, v in t.items() if k in ("key", "value", "effect")} for t in spec.get("taints") or ()]
        return cls(labels, dict(spec.get("annotations") or {}), taints)

    @classmethod
    def recorded_on(cls, node: Obj) -> PoolAttributes:
        """What the pool last applied to ``node``; an unreadable record counts as nothing applied."""
        raw = ((node.get("metadata") or {}).get("annotations") or {}).get(PREVIOUS_ATTRIBUTES_ANNOTATION)
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(dict(data.get("labels") or {}), dict(data.get("annotations") or {}),
                       list(data.get("taints") or []))
        except (ValueError, AttributeError, TypeError):
            log.warning("node %s: unreadable %s annotation, ignored", node["metadata"]["name"],
                        PREVIOUS_ATTRIBUTES_ANNOTATION)
            return cls()

    def empty(self) -> bool:
        return not (self.labels or self.annotations or self.taints)

    def encode(self) -> str:
        data: Obj = {}
        if self.labels:
            data["labels"] = self.labels
        if self.annotations:
            data["annotations"] = self.annotations
        if self.taints:
            data["taints"] = self.taints
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _same_taint(a: Obj, b: Obj) -> bool:
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def _conciliate_map(current: dict[str, str], old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    result = dict(current)
    for key, value in old.items():
        if key not in new and result.get(key) == value:
            del result[key]
    result.update(new)
    return result


def _conciliate_taints(current: list[Obj], old: list[Obj], new: list[Obj]) -> list[Obj]:
    kept = [t for t in current if not any(_same_taint(t, o) and t.get("value") == o.get("value") for o in old)]
    for taint in new:
        at = next((i for i, t in enumerate(kept) if _same_taint(t, taint)), None)
        if at is None:
            kept.append(taint)
        elif {k: v for k, v in kept[at].items() if k != "timeAdded"} != taint:
            kept[at] = taint
    return kept


def conciliate_node(node: Obj, pool: Obj | None) -> Obj | None:
    """``node`` with its pool's attributes applied and the previous ones removed, or None when it is right."""
    old, new = PoolAttributes.recorded_on(node), PoolAttributes.of_pool(pool)
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    labels = _conciliate_map(meta.get("labels") or {}, old.labels, new.labels)
    annotations = _conciliate_map(meta.get("annotations") or {}, old.annotations, new.annotations)
    if new.empty():
        annotations.pop(PREVIOUS_ATTRIBUTES_ANNOTATION, None)
    else:
        annotations[PREVIOUS_ATTRIBUTES_ANNOTATION] = new.encode()
    taints = _conciliate_taints(spec.get("taints") or [], old.taints, new.taints)
    if (labels, annotations, taints) == (meta.get("labels") or {}, meta.get("annotations") or {},
                                         spec.get("taints") or []):
        return None
    updated_spec = {k: v for k, v in spec.items() if k != "taints"}
    if taints:
        updated_spec["taints"] = taints
    return {**node, "metadata": {**meta, "labels": labels, "annotations": annotations}, "spec": updated_spec}


def node_ready(node: Obj) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pool_status(members: list[Obj]) -> Obj:
    ready = sum(1 for n in members if node_ready(n))
    status: Obj = {"readyNodeNum": ready, "unreadyNodeNum": len(members) - ready}
    names = sorted(n["metadata"]["name"] for n in members)
    if names:
        status["nodes"] = names
    return status


def pool_of(node: Obj | None) -> str:
    return ((node or {}).get("metadata", {}).get("labels") or {}).get(NODEPOOL_LABEL, "")


class NodePoolController(Controller):
    name = "nodepool"

    def setup(self) -> None:
        self.nodes: Informer = self.informer("v1", "nodes")
        self.pools: Informer = self.informer(NODEPOOL_API_VERSION, "nodepools")
        self.nodes.add_index(POOL_INDEX, lambda node: [pool_of(node)] if pool_of(node) else [])
        self.nodes.add_handler(self._node_changed)
        self.pools.add_handler(self._pool_changed)

    def _node_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        node = new if new is not None else old
        assert node is not None
        if new is not None:
            self.queue.add(("node", node["metadata"]["name"]))
        for pool in {pool_of(old), pool_of(new)} - {""}:
            self.queue.add(("pool", pool))

    def _pool_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        pool = new if new is not None else old
        assert pool is not None
        name = pool["metadata"]["name"]
        if new is not None:
            self.queue.add(("pool", name))
        if new is None or (old or {}).get("spec") != new.get("spec"):
            for node in self.nodes.by_index(POOL_INDEX, name):
                self.queue.add(("node", node["metadata"]["name"]))

    async def reconcile(self, key: Hashable) -> None:
        what, name = key  # type: ignore[misc]
        if what == "node":
            await self._sync_node(name)
        else:
            await self._sync_pool(name)

    async def _sync_node(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        pool = self.pools.get(pool_of(node)) if pool_of(node) else None
        updated = conciliate_node(node, pool)
        if updated is not None:
            # The cached resourceVersion makes this a compare-and-swap: a stale cache means 409 and a retry,
            # never lost taints or labels another writer just set.
            await self.client.update("v1", "nodes", updated)

    async def _sync_pool(self, name: str) -> None:
        pool = self.pools.get(name)
        if pool is None:
            return
        status = pool_status(self.nodes.by_index(POOL_INDEX, name))
        current = pool.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()) and ("nodes" in status or not current.get("nodes")):
            return
        patch = {**status, "nodes": status.get("nodes")}  # null clears the list when the pool empties
        await self.client.patch(NODEPOOL_API_VERSION, "nodepools", name, {"status": patch}, subresource="status")
