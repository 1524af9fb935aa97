"""Node lifecycle: notices nodes that stopped renewing their Lease, and decides what happens to their pods.

A node renews kube-node-lease/<node> every few seconds. When no renewal (nor a Ready heartbeat in its
status) has been seen for the grace period, its Ready condition becomes Unknown and it is tainted
node.kubernetes.io/unreachable (NoSchedule, NoExecute); a node that reports Ready=False is tainted
node.kubernetes.io/not-ready the same way. Pods on such a node are marked NotReady, and evicted once
the NoExecute taint has lasted longer than they tolerate (as kube-controller-manager's taint manager).

Autonomous edge nodes (node.openyurt.io/autonomy-duration, "0" for ever, or the older
node.beta.openyurt.io/autonomy: "true") keep running their pods while cut off from the cloud: nothing on
them is marked NotReady or evicted until the autonomy duration has passed since the node went silent.
When renewals resume, the node is Ready again and its taints come off; its pods are left as they are.

Silence is measured on this process's clock from the moment a renewal was last observed, never from the
timestamps nodes write, so clock skew between cloud and edge does not matter.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.apiserver.objectmeta import now_rfc3339
from edgeplane.client.informer import Informer
from edgeplane.controllers.base import Controller
from edgeplane.controllers.scheduler.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    NOT_READY,
    UNREACHABLE,
    Taint,
    eviction_delay,
)
from edgeplane.controllers.settings import DurationError, parse_duration

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
AUTONOMY_DURATION = "node.openyurt.io/autonomy-duration"
LEGACY_AUTONOMY = "node.beta.openyurt.io/autonomy"
STATUS_UNKNOWN_REASON = "NodeStatusUnknown"
STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_UPDATED_REASON = "NodeStatusNeverUpdated"
NEVER_UPDATED_MESSAGE = "Kubelet never posted node status."
RENEWED_REASON = "NodeLeaseRenewed"
_GONE_KEYS = (NOT_READY, UNREACHABLE)
_POD_INDEX = "nodelifecycle.nodeName"


def _wall_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def autonomy_seconds(node: dict[str, Any]) -> float | None:
    """How long the node keeps its pods while unreachable: None if not autonomous, inf for ever.

    Raises DurationError for an autonomy-duration annotation that is not a duration.
    """
    annotations = node["metadata"].get("annotations") or {}
    value = annotations.get(AUTONOMY_DURATION)
    if value is not None:
        seconds = parse_duration(value)
        if seconds < 0:
            raise DurationError(f"invalid duration {value!r}: must not be negative")
        return math.inf if seconds == 0 else seconds
    if annotations.get(LEGACY_AUTONOMY) == "true":
        return math.inf
    return None


def gone_taints(ready_status: str | None, now: str) -> list[Taint]:
    """The taints a node gets for its Ready status: unreachable when Unknown, not-ready when False."""
    key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(ready_status or "")
    if key is None:
        return []
    return [{"key": key, "effect": NO_SCHEDULE}, {"key": key, "effect": NO_EXECUTE, "timeAdded": now}]


class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    workers = 4

    def setup(self) -> None:
        self._seen: dict[str, float] = {}  # node -> loop time a renewal or heartbeat was last observed
        self._renewals: dict[tuple[str, str], Any] = {}  # (node, lease|status) -> last renewal seen
        self._renewed: set[str] = set()  # nodes seen renewing since this controller started
        self._bad_autonomy: dict[str, str] = {}  # node -> annotation value already reported as invalid
        self._taints_seen: dict[tuple[str, str, str], float] = {}  # NoExecute taints without timeAdded
        self.nodes: Informer = self.informer("v1", "nodes")
        self.leases: Informer = self.informer("coordination.k8s.io/v1", "leases")
        self.pods: Informer = self.informer("v1", "pods")
        self.pods.add_index(_POD_INDEX, lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName")) else [])
        self.nodes.add_handler(self._on_node)
        self.leases.add_handler(self._on_lease)
        self.pods.add_handler(self._on_pod)

    # -- observing heartbeats ------------------------------------------------------------------------

    def _heard(self, node: str, source: str, token: Any, informer: Informer) -> None:
        previous = self._renewals.get((node, source))
        if previous == token:
            return
        self._renewals[(node, source)] = token
        self._seen[node] = asyncio.get_running_loop().time()
        if previous is not None or informer.synced:  # not just the first look after (re)starting
            self._renewed.add(node)
        self.queue.add(node)

    def _on_lease(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None or new["metadata"].get("namespace") != NODE_LEASE_NAMESPACE:
            return
        spec = new.get("spec") or {}
        self._heard(new["metadata"]["name"], "lease", (spec.get("renewTime"), spec.get("holderIdentity")),
                    self.leases)

    def _on_node(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None:
            name = old["metadata"]["name"] if old else ""
            for state in (self._seen, self._bad_autonomy):
                state.pop(name, None)
            self._forget_taints(name, [])
            self._renewed.discard(name)
            for source in ("lease", "status"):
                self._renewals.pop((name, source), None)
            return
        name = new["metadata"]["name"]
        ready = condition(new, "Ready") or {}
        if kind == "ADDED":  # a node first seen (or seen again after a restart) gets a full grace period
            self._seen.setdefault(name, asyncio.get_running_loop().time())
        heartbeat = ready.get("lastHeartbeatTime")
        if heartbeat and ready.get("reason") not in (STATUS_UNKNOWN_REASON, NEVER_UPDATED_REASON):
            self._heard(name, "status", heartbeat, self.nodes)
        self.queue.add(name)

    def _on_pod(self, kind: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        node_name = ((new or {}).get("spec") or {}).get("nodeName")
        if node_name and node_name != ((old or {}).get("spec") or {}).get("nodeName"):
            node = self.nodes.get(node_name)
            if node and any(t.get("effect") == NO_EXECUTE for t in (node.get("spec") or {}).get("taints") or ()):
                self.queue.add(node_name)  # a pod bound to a node it may not stay on

    # -- reconciling ---------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        name = str(key)
        node = self.nodes.get(name)
        if node is None:
            return
        loop_now = asyncio.get_running_loop().time()
        grace = self.settings.node_monitor_grace_period
        silent_for = loop_now - self._seen.setdefault(name, loop_now)
        next_check = grace - silent_for if silent_for <= grace else math.inf
        node = await self._update_ready(node, silent_for > grace)
        node = await self._update_taints(node)
        next_check = min(next_check, await self._handle_pods(node))
        if next_check < math.inf:
            self.queue.add_after(name, max(next_check, 0.0) + 0.05)

    async def _update_ready(self, node: dict[str, Any], silent: bool) -> dict[str, Any]:
        name = node["metadata"]["name"]
        ready = condition(node, "Ready")
        now = now_rfc3339()
        if silent:
            if ready is not None and ready.get("status") == "Unknown":
                return node
            new = {"type": "Ready", "status": "Unknown", "lastTransitionTime": now,
                   "reason": STATUS_UNKNOWN_REASON if ready else NEVER_UPDATED_REASON,
                   "message": STATUS_UNKNOWN_MESSAGE if ready else NEVER_UPDATED_MESSAGE}
            log.info("node %s: no lease renewal for %.0fs; Ready is Unknown", name,
                     self.settings.node_monitor_grace_period)
        elif name in self._renewed and (ready or {}).get("reason") in (STATUS_UNKNOWN_REASON, NEVER_UPDATED_REASON):
            # Renewals resumed and nothing else has reported since the node was marked Unknown.
            new = {"type": "Ready", "status": "True", "lastTransitionTime": now, "lastHeartbeatTime": now,
                   "reason": RENEWED_REASON, "message": "Node lease renewals resumed."}
            log.info("node %s: lease renewals resumed; Ready again", name)
        else:
            return node
        return await self.client.patch("v1", "nodes", name, {"status": {"conditions": [new]}}, patch_type="strategic",
                                       subresource="status")

    async def _update_taints(self, node: dict[str, Any]) -> dict[str, Any]:
        taints: list[Taint] = list((node.get("spec") or {}).get("taints") or [])
        wanted = gone_taints((condition(node, "Ready") or {}).get("status"), now_rfc3339())
        have = {(t.get("key"), t.get("effect")) for t in taints if t.get("key") in _GONE_KEYS}
        want = {(t["key"], t["effect"]) for t in wanted}
        if have == want:
            return node
        kept = [t for t in taints if t.get("key") not in _GONE_KEYS or (t.get("key"), t.get("effect")) in want]
        added = [t for t in wanted if (t["key"], t["effect"]) not in have]
        m = node["metadata"]
        # The resourceVersion makes this a compare-and-swap: a concurrent taint edit is never lost.
        return await self.client.patch("v1", "nodes", m["name"], {
            "metadata": {"resourceVersion": m["resourceVersion"]}, "spec": {"taints": kept + added or None}})

    async def _autonomy_end(self, node: dict[str, Any], since: float) -> float | None:
        """Wall time the node's autonomy ends (inf: never), or None for an ordinary node."""
        name = node["metadata"]["name"]
        try:
            seconds = autonomy_seconds(node)
        except DurationError as exc:
            value = (node["metadata"].get("annotations") or {}).get(AUTONOMY_DURATION, "")
            if self._bad_autonomy.get(name) != value:
                self._bad_autonomy[name] = value
                log.warning("node %s: annotation %s: %s; the node is not autonomous", name, AUTONOMY_DURATION, exc)
                await self.events.record(
                    node, "Warning", "InvalidAutonomyDuration",
                    f"metadata.annotations[{AUTONOMY_DURATION}]: {exc}; the node is treated as not autonomous")
            return None
        return None if seconds is None else since + seconds

    async def _handle_pods(self, node: dict[str, Any]) -> float:
        """Marks pods NotReady and evicts those whose toleration ran out; seconds until the next is due."""
        taints = [t for t in (node.get("spec") or {}).get("taints") or () if t.get("effect") == NO_EXECUTE]
        self._forget_taints(node["metadata"]["name"], taints)
        not_ready = (condition(node, "Ready") or {}).get("status") in ("Unknown", "False")
        if not taints and not not_ready:
            return math.inf
        wall_now = datetime.now().timestamp()
        autonomy_end = None
        unreachable = [t for t in taints if t.get("key") == UNREACHABLE]
        if unreachable:
            autonomy_end = await self._autonomy_end(node, self._taint_start(node, unreachable[0], wall_now))
            if autonomy_end is not None and wall_now < autonomy_end:
                return autonomy_end - wall_now  # autonomous: its pods are the node's business until then
        since = min(self._taint_start(node, t, wall_now) for t in taints) if taints else wall_now
        next_due = math.inf
        for pod in self.pods.by_index(_POD_INDEX, node["metadata"]["name"]):
            if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in (
                    "Succeeded", "Failed"):
                continue
            if not_ready:
                await self._mark_not_ready(pod)
            delay = eviction_delay(taints, (pod.get("spec") or {}).get("tolerations") or [])
            if delay is None:
                continue
            due = max(since + delay, autonomy_end or 0.0)
            if wall_now >= due:
                await self._evict(pod)
            else:
                next_due = min(next_due, due - wall_now)
        return next_due

    def _taint_start(self, node: dict[str, Any], taint: Taint, wall_now: float) -> float:
        """When a NoExecute taint appeared: its timeAdded, or when this controller first saw it."""
        added = _wall_time(taint.get("timeAdded"))
        if added is not None:
            return added
        key = (node["metadata"]["name"], taint.get("key", ""), taint.get("value", ""))
        return self._taints_seen.setdefault(key, wall_now)

    def _forget_taints(self, node_name: str, current: list[Taint]) -> None:
        keep = {(node_name, t.get("key", ""), t.get("value", "")) for t in current}
        for key in [k for k in self._taints_seen if k[0] == node_name and k not in keep]:
            del self._taints_seen[key]

    async def _mark_not_ready(self, pod: dict[str, Any]) -> None:
        ready = condition(pod, "Ready")
        if ready is None or ready.get("status") == "False":
            return
        m = pod["metadata"]
        try:
            await self.client.patch("v1", "pods", m["name"], {"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now_rfc3339()}]}},
                m["namespace"], patch_type="strategic", subresource="status")
        except APIError as exc:
            if exc.code != 404:
                raise
            return
        await self.events.record(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _evict(self, pod: dict[str, Any]) -> None:
        m = pod["metadata"]
        try:
            await self.client.delete("v1", "pods", m["name"], m["namespace"], precondition_uid=m.get("uid", ""))
        except APIError as exc:
            if exc.code not in (404, 409):
                raise
            return
        log.info("evicted pod %s/%s from node %s", m["namespace"], m["name"], pod["spec"].get("nodeName"))
        await self.events.record(pod, "Normal", "TaintManagerEviction",
                                 f"Marking for deletion Pod {m['namespace']}/{m['name']}")
