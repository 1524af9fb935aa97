"""DaemonSets: one pod on every node the template fits, as Kubernetes' daemon set controller does it.

A node should run the daemon pod when the pod's nodeSelector and required node affinity match it and its
taints are tolerated; a pod already there may keep running on a node whose only untolerated taints are
NoSchedule. Pods are made for a node with a required node affinity on metadata.name (the scheduler
binds them there, as in Kubernetes since 1.12) and with the tolerations Kubernetes adds to daemon pods.
Template changes roll out node by node within maxUnavailable (RollingUpdate), or on pod deletion
(OnDelete).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edgeplane.controllers.base import Controller
from edgeplane.controllers.claiming import owners_to_enqueue, selector_of
from edgeplane.controllers.intorpercent import scaled_value
from edgeplane.controllers.podcontrol import PodControl, deep_copy, pod_from_template
from edgeplane.controllers.pods import available_in, is_ready, parse_time
from edgeplane.controllers.rollout import template_hash
from edgeplane.controllers.scheduler.constraints import ConstraintError, PodConstraints
from edgeplane.controllers.scheduler.taints import NO_EXECUTE, first_untolerated

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
# The tolerations Kubernetes gives every daemon pod (AddOrUpdateDaemonPodTolerations): a daemon keeps running
# on nodes that are not ready, unreachable, under pressure or cordoned.
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")
_TOLERATE_ALL = [{"operator": "Exists"}]


@dataclass
class NodeView:
    """What placement reads of a node (the scheduler's constraints take this shape)."""

    name: str
    labels: Mapping[str, str]
    taints: list[Obj]
    unschedulable: bool
    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, node: Obj) -> NodeView:
        m, spec = node["metadata"], node.get("spec") or {}
        return cls(m["name"], m.get("labels") or {}, list(spec.get("taints") or ()), bool(spec.get("unschedulable")),
                   {"metadata.name": m["name"]})


def with_daemon_tolerations(spec: Obj) -> None:
    """AddOrUpdateTolerationInPodSpec for each daemon toleration: one equal in key, operator, value and effect
    is replaced (so a tolerationSeconds on it goes: daemons stay for good), others are kept."""
    tolerations = list(spec.get("tolerations") or [])
    wanted = list(_DAEMON_TOLERATIONS) + ([_HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    for key, effect in wanted:
        daemon = {"key": key, "operator": "Exists", "effect": effect}
        tolerations = [t for t in tolerations if (t.get("key"), t.get("operator", "Equal"), t.get("value", ""),
                                                  t.get("effect")) != (key, "Exists", "", effect)]
        tolerations.append(daemon)
    spec["tolerations"] = tolerations


def pin_to_node(spec: Obj, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: one required term, matchFields metadata.name In [node]."""
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}


def target_node(pod: Obj) -> str | None:
    """The node a daemon pod runs on or is pinned to (GetTargetNodeName)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or ()) == 1:
                return str(f["values"][0])
    return None


class Placement:
    """Whether a DaemonSet's pod should run on a node, and whether one already there may stay."""

    def __init__(self, ds: Obj) -> None:
        spec = deep_copy((ds["spec"].get("template") or {}).get("spec") or {})
        with_daemon_tolerations(spec)
        self.tolerations = spec["tolerations"]
        # Name and affinity are judged with every taint tolerated, so taints can be judged on their own.
        self._fit = PodConstraints({**spec, "tolerations": _TOLERATE_ALL, "nodeName": ""})

    def judge(self, node: NodeView) -> tuple[bool, bool]:
        """(should run, should continue running), as NodeShouldRunDaemonPod."""
        if self._fit.reject_reason(node) is not None:
            return False, False
        if first_untolerated(node.taints, self.tolerations) is None:
            return True, True
        return False, first_untolerated(node.taints, self.tolerations, (NO_EXECUTE,)) is None


def _oldest_first(pods: list[Obj]) -> list[Obj]:
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def setup(self) -> None:
        self.daemonsets = self.informer("apps/v1", "daemonsets")
        self.pods = self.informer("v1", "pods")
        self.nodes = self.informer("v1", "nodes")
        self.control = PodControl(self.client, self.events, self.pods)
        self.daemonsets.add_handler(self.enqueue_handler)
        self.pods.add_handler(self._pod_changed)
        self.nodes.add_handler(self._node_changed)

    def _pod_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for key in owners_to_enqueue((old, new), "DaemonSet", self.daemonsets):
            self.queue.add(key)

    def _node_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and _placement_facts(old) == _placement_facts(new):
            return  # a heartbeat: nothing placement reads has changed
        for ds in self.daemonsets.list():
            self.enqueue(ds)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, str)
        ds = self.daemonsets.get(key)
        if ds is None:
            self.control.expectations.forget(key)
            return
        pods = await self.control.claim(ds, selector_of(ds))
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            node = target_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        try:
            placement = Placement(ds)
        except ConstraintError as exc:
            await self.events.record(ds, "Warning", "FailedPlacement", f"cannot place daemon pods: {exc}")
            return
        nodes = {n["metadata"]["name"]: NodeView.of(n) for n in self.nodes.list()}
        judged = {name: placement.judge(view) for name, view in nodes.items()}
        hash_ = template_hash(ds["spec"].get("template") or {})
        if not ds["metadata"].get("deletionTimestamp") and self.control.expectations.satisfied(key):
            await self._manage(ds, key, hash_, by_node, judged)
            strategy = ds["spec"].get("updateStrategy") or {}
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                await self._rolling_update(ds, key, hash_, by_node, judged)
        await self._update_status(ds, key, hash_, by_node, judged)

    # -- pods per node -----------------------------------------------------------------------------------

    async def _manage(self, ds: Obj, key: str, hash_: str, by_node: dict[str, list[Obj]],
                      judged: dict[str, tuple[bool, bool]]) -> None:
        """podsShouldBeOnNode for every node: create where missing, delete where unwanted, failed or extra."""
        create: list[str] = []
        delete: list[Obj] = []
        for node, (should_run, may_stay) in judged.items():
            pods = by_node.get(node, [])
            if should_run and not pods:
                create.append(node)
            elif may_stay:
                running = []
                for pod in pods:
                    if pod["metadata"].get("deletionTimestamp"):
                        continue
                    if (pod.get("status") or {}).get("phase") == "Failed":
                        delete.append(pod)  # the next sync makes a fresh one
                    else:
                        running.append(pod)
                delete += _oldest_first(running)[1:]  # duplicates: keep the oldest
            else:
                delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        for node, pods in by_node.items():  # pods pinned to nodes that are gone
            if node not in judged:
                delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if delete:
            await self.control.delete_pods(ds, key, delete)
        if create:
            template = ds["spec"].get("template") or {}
            prefix = ds["metadata"]["name"] + "-"

            def make(i: int) -> Obj:
                pod = pod_from_template(ds, template, prefix)
                labels = pod["metadata"].setdefault("labels", {})
                labels[HASH_LABEL] = hash_
                labels[GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
                with_daemon_tolerations(pod["spec"])
                pin_to_node(pod["spec"], create[i])
                return pod

            await self.control.create_pods(ds, key, len(create), make)

    async def _rolling_update(self, ds: Obj, key: str, hash_: str, by_node: dict[str, list[Obj]],
                              judged: dict[str, tuple[bool, bool]]) -> None:
        """Replace old pods node by node: unavailable old pods at once, available ones only while fewer than
        maxUnavailable nodes lack an available up-to-date pod."""
        desired = [node for node, (should_run, _) in judged.items() if should_run]
        rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(rolling.get("maxUnavailable", 1), len(desired), True,
                                       "spec.updateStrategy.rollingUpdate.maxUnavailable") or 1
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        now = datetime.now(UTC)
        unavailable = 0
        replace_now: list[Obj] = []
        candidates: list[Obj] = []
        for node in desired:
            live = [p for p in by_node.get(node, []) if not p["metadata"].get("deletionTimestamp")]
            new = [p for p in live if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == hash_]
            old = [p for p in live if p not in new]
            if new:
                if available_in(new[0], min_ready, now) != 0:
                    unavailable += 1
            elif len(old) != 1:
                unavailable += 1  # nothing yet, or duplicates _manage is cleaning up
            elif available_in(old[0], min_ready, now) != 0:
                unavailable += 1
                replace_now.append(old[0])
            else:
                candidates.append(old[0])
        budget = max(0, min(max_unavailable - unavailable, len(candidates)))
        doomed = replace_now + _oldest_first(candidates)[:budget]
        if doomed:
            await self.control.delete_pods(ds, key, doomed)

    # -- status ------------------------------------------------------------------------------------------

    async def _update_status(self, ds: Obj, key: str, hash_: str, by_node: dict[str, list[Obj]],
                             judged: dict[str, tuple[bool, bool]]) -> None:
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        now = datetime.now(UTC)
        desired = current = ready = available = updated = misscheduled = 0
        recheck: float | None = None
        for node, (should_run, _) in judged.items():
            pods = by_node.get(node, [])
            if not should_run:
                misscheduled += bool(pods)
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = min(pods, key=lambda p: parse_time(p["metadata"].get("creationTimestamp")) or now)
            if is_ready(pod):
                ready += 1
                wait = available_in(pod, min_ready, now)
                if wait == 0:
                    available += 1
                elif wait is not None:
                    recheck = wait if recheck is None else min(recheck, wait)
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == hash_:
                updated += 1
        await self.write_status("apps/v1", "daemonsets", ds, dict(
            desiredNumberScheduled=desired, currentNumberScheduled=current, numberReady=ready,
            numberAvailable=available, numberUnavailable=desired - available, updatedNumberScheduled=updated,
            numberMisscheduled=misscheduled, observedGeneration=ds["metadata"].get("generation", 0),
        ), omit_when_zero=("numberAvailable", "numberUnavailable", "updatedNumberScheduled"))
        if recheck is not None:
            self.queue.add_after(key, recheck + 0.05)


def _placement_facts(node: Obj) -> tuple[Any, ...]:
    spec = node.get("spec") or {}
    return node["metadata"].get("labels"), spec.get("taints"), spec.get("unschedulable")
