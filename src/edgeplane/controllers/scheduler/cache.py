"""The scheduler's picture of the cluster, kept in memory: per-node allocatable and the requests of the pods
bound (or assumed bound) there, updated from informer events and from the scheduler's own binds.

Assuming a pod the moment its node is chosen, before the binding is written, is what lets the next pod be
placed without waiting for the watch to echo the first one back (kube-scheduler's assumed pod cache).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edgeplane.controllers.scheduler.constraints import PodConstraints, constraints_key
from edgeplane.controllers.scheduler.resources import CPU, MEMORY, PODS, PodUsage, node_allocatable
from edgeplane.controllers.scheduler.taints import NO_SCHEDULE, NOT_READY, UNREACHABLE, Taint


def is_ready(node: dict[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _effective_taints(node: dict[str, Any]) -> list[Taint]:
    """The node's taints; a node that is not Ready also counts as tainted not-ready:NoSchedule until the
    node lifecycle controller has put its own not-ready or unreachable taints on it."""
    taints = [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, dict)]
    if not is_ready(node) and not any(t.get("key") in (NOT_READY, UNREACHABLE) for t in taints):
        taints.append({"key": NOT_READY, "effect": NO_SCHEDULE})
    return taints


class NodeInfo:
    __slots__ = ("alloc_cpu", "alloc_memory", "alloc_other", "alloc_pods", "fields", "free_cpu", "free_memory",
                 "free_pods", "inv_cpu", "inv_memory", "labels", "load", "name", "node", "nonzero_cpu",
                 "nonzero_memory", "owners", "pods", "taints", "unschedulable", "used_cpu", "used_memory",
                 "used_other")

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: dict[str, Any] | None = None  # None: pods are bound to a node the cache has not seen
        self.fields = {"metadata.name": name}
        self.labels: dict[str, str] = {}
        self.taints: list[Taint] = []
        self.unschedulable = False
        self.alloc_cpu = self.alloc_memory = self.alloc_pods = 0
        self.alloc_other: dict[str, int] = {}
        self.used_cpu = self.used_memory = self.nonzero_cpu = self.nonzero_memory = 0
        self.used_other: dict[str, int] = {}
        self.owners: Counter[str] = Counter()
        self.pods: dict[str, PodUsage] = {}
        # Derived from the above, kept current for the placement loop's sake.
        self.free_cpu = self.free_memory = self.free_pods = 0
        self.inv_cpu = self.inv_memory = self.load = 0.0

    def set_node(self, node: dict[str, Any]) -> tuple[bool, bool]:
        """Returns (placement-relevant labels/taints/schedulability changed, allocatable changed)."""
        labels = dict(node["metadata"].get("labels") or {})
        taints = _effective_taints(node)
        unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        alloc = node_allocatable(node)
        static_changed = self.node is None or (labels, taints, unschedulable) != (
            self.labels, self.taints, self.unschedulable)
        alloc_other = {k: v for k, v in alloc.items() if k not in (CPU, MEMORY, PODS)}
        alloc_changed = (alloc.get(CPU, 0), alloc.get(MEMORY, 0), alloc.get(PODS, 0), alloc_other) != (
            self.alloc_cpu, self.alloc_memory, self.alloc_pods, self.alloc_other)
        self.node, self.labels, self.taints, self.unschedulable = node, labels, taints, unschedulable
        self.alloc_cpu, self.alloc_memory, self.alloc_pods = alloc.get(CPU, 0), alloc.get(MEMORY, 0), alloc.get(PODS, 0)
        self.alloc_other = alloc_other
        self._derive()
        return static_changed, alloc_changed

    def _derive(self) -> None:
        self.free_cpu = self.alloc_cpu - self.used_cpu
        self.free_memory = self.alloc_memory - self.used_memory
        self.free_pods = self.alloc_pods - len(self.pods)
        # A resource the node does not offer counts as fully used (least-allocated score 0, as Kubernetes).
        self.inv_cpu = 1.0 / self.alloc_cpu if self.alloc_cpu > 0 else 0.0
        self.inv_memory = 1.0 / self.alloc_memory if self.alloc_memory > 0 else 0.0
        self.load = (self.nonzero_cpu * self.inv_cpu if self.alloc_cpu > 0 else 1.0) + (
            self.nonzero_memory * self.inv_memory if self.alloc_memory > 0 else 1.0)

    def add(self, key: str, usage: PodUsage) -> None:
        self.pods[key] = usage
        self._account(usage, 1)

    def remove(self, key: str) -> None:
        usage = self.pods.pop(key, None)
        if usage is not None:
            self._account(usage, -1)

    def _account(self, usage: PodUsage, sign: int) -> None:
        self.used_cpu += sign * usage.cpu
        self.used_memory += sign * usage.memory
        self.nonzero_cpu += sign * usage.nonzero_cpu
        self.nonzero_memory += sign * usage.nonzero_memory
        for name, value in usage.other:
            self.used_other[name] = self.used_other.get(name, 0) + sign * value
        if usage.owner:
            self.owners[usage.owner] += sign
            if self.owners[usage.owner] <= 0:
                del self.owners[usage.owner]
        self._derive()

    def insufficient(self, usage: PodUsage) -> list[str]:
        """kube-scheduler's NodeResourcesFit reasons (all of them) for this pod on this node."""
        reasons = []
        if len(self.pods) + 1 > self.alloc_pods:
            reasons.append("Too many pods")
        if usage.cpu and self.used_cpu + usage.cpu > self.alloc_cpu:
            reasons.append("Insufficient cpu")
        if usage.memory and self.used_memory + usage.memory > self.alloc_memory:
            reasons.append("Insufficient memory")
        for name, value in usage.other:
            if self.used_other.get(name, 0) + value > self.alloc_other.get(name, 0):
                reasons.append(f"Insufficient {name}")
        return reasons


@dataclass
class StaticFit:
    """For one set of constraints: the nodes they allow, grouped by untolerated PreferNoSchedule taints
    (fewest first), and why the other nodes fail."""

    groups: list[list[NodeInfo]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class Decision:
    node: str | None
    message: str = ""


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self._schedulable: list[NodeInfo] = []  # nodes with a Node object, in a stable order
        self._pod_node: dict[str, str] = {}  # pod key -> node it is accounted on
        self.assumed: set[str] = set()  # bound by us, not yet seen bound by the informer
        self._fits: dict[bytes, StaticFit] = {}
        self._compiled: dict[bytes, PodConstraints] = {}
        self._next_start = 0

    # -- nodes ---------------------------------------------------------------------------------------

    def set_node(self, node: dict[str, Any]) -> bool:
        """Adds or updates a node; True when the change may let a waiting pod fit."""
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name)
        is_new = info.node is None
        static_changed, alloc_changed = info.set_node(node)
        if is_new:
            self._schedulable.append(info)
        if static_changed:
            self._fits.clear()
        return static_changed or alloc_changed

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None or info.node is None:
            return
        self._schedulable.remove(info)
        self._fits.clear()
        info.node = None
        if not info.pods:
            del self.nodes[name]

    # -- pods ----------------------------------------------------------------------------------------

    def node_of(self, key: str) -> str | None:
        return self._pod_node.get(key)

    def add_pod(self, key: str, node_name: str, usage: PodUsage) -> None:
        if self._pod_node.get(key) == node_name:
            return
        self.remove_pod(key)
        info = self.nodes.get(node_name)
        if info is None:
            info = self.nodes[node_name] = NodeInfo(node_name)
        info.add(key, usage)
        self._pod_node[key] = node_name

    def remove_pod(self, key: str) -> bool:
        """Forgets a pod (deleted, finished, or a bind that failed); True when it freed room on a node."""
        self.assumed.discard(key)
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return False
        info = self.nodes[node_name]
        info.remove(key)
        if info.node is None and not info.pods:
            del self.nodes[node_name]
        return True

    def assume(self, key: str, node_name: str, usage: PodUsage) -> None:
        self.add_pod(key, node_name, usage)
        self.assumed.add(key)

    # -- placement -----------------------------------------------------------------------------------

    def constraints(self, spec: dict[str, Any]) -> tuple[bytes, PodConstraints]:
        """Compiled constraints, shared by pods with equal ones. Raises ConstraintError."""
        key = constraints_key(spec)
        compiled = self._compiled.get(key)
        if compiled is None:
            if len(self._compiled) > 4096:
                self._compiled.clear()
            compiled = self._compiled[key] = PodConstraints(spec)
        return key, compiled

    def _static_fit(self, key: bytes, constraints: PodConstraints) -> StaticFit:
        fit = self._fits.get(key)
        if fit is None:
            fit = StaticFit()
            by_penalty: dict[int, list[NodeInfo]] = {}
            for info in self._schedulable:
                reason = constraints.reject_reason(info)
                if reason is None:
                    by_penalty.setdefault(constraints.preference_penalty(info), []).append(info)
                else:
                    fit.reasons[reason] += 1
            fit.groups = [by_penalty[p] for p in sorted(by_penalty)]
            if len(self._fits) > 1024:
                self._fits.clear()
            self._fits[key] = fit
        return fit

    def choose(self, spec: dict[str, Any], usage: PodUsage) -> Decision:
        """The best node for a pod, or why none fits. Score, best first: fewer untolerated PreferNoSchedule
        taints, fewer pods of the same owner, then the least allocated node. Raises ConstraintError."""
        total = len(self._schedulable)
        if not total:
            return Decision(None, "no nodes available to schedule pods")
        key, constraints = self.constraints(spec)
        fit = self._static_fit(key, constraints)
        for group in fit.groups:
            best = self._best_in(group, usage)
            if best is not None:
                return Decision(best.name)
        reasons = Counter(fit.reasons)
        for group in fit.groups:
            for info in group:
                reasons.update(info.insufficient(usage))
        return Decision(None, failure_message(total, reasons))

    def _best_in(self, nodes: list[NodeInfo], usage: PodUsage) -> NodeInfo | None:
        """The hot loop (every pod, every allowed node): plain comparisons, no allocations.

        As kube-scheduler, in a large cluster only the first feasible_nodes_to_find(n) nodes that fit are
        scored, from a start that moves on by the nodes looked at, so every node gets its turn.
        """
        count = len(nodes)
        start = self._next_start % count
        wanted = feasible_nodes_to_find(len(self._schedulable))
        found = 0
        cpu, memory, other, owner = usage.cpu, usage.memory, usage.other, usage.owner
        add_cpu, add_memory = usage.nonzero_cpu, usage.nonzero_memory
        best: NodeInfo | None = None
        best_owned, best_load = 1 << 62, 0.0
        for index in range(start, start + count):
            info = nodes[index - count] if index >= count else nodes[index]
            if info.free_pods <= 0 or cpu > info.free_cpu or memory > info.free_memory:
                continue
            if other and any(info.used_other.get(n, 0) + v > info.alloc_other.get(n, 0) for n, v in other):
                continue
            owned = info.owners.get(owner, 0) if owner else 0
            if owned <= best_owned:
                load = info.load + add_cpu * info.inv_cpu + add_memory * info.inv_memory
                if owned < best_owned or load < best_load:
                    best, best_owned, best_load = info, owned, load
            found += 1
            if found >= wanted:
                self._next_start = index + 1
                return best
        self._next_start = start + 1  # looked at them all: the next pod's ties start one further on
        return best


# kube-scheduler's defaults: score every node up to 100, then an adaptive share of them (42% of 1,000).
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENT = 5


def feasible_nodes_to_find(total: int) -> int:
    if total < MIN_FEASIBLE_NODES:
        return total
    percent = max(MIN_FEASIBLE_PERCENT, 50 - total // 125)
    return max(MIN_FEASIBLE_NODES, total * percent // 100)


def failure_message(total: int, reasons: Counter[str]) -> str:
    """Kubernetes' FitError text: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match ..."."""
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"0/{total} nodes are available: {', '.join(parts)}."
