"""A pod's status from what the runtime and the probes say, computed as the kubelet computes it.

Pure functions: the pod manager gathers one ``ContainerView`` per container and gets back a full PodStatus.
Timestamps come from the runtime and from the previous status, so an unchanged pod yields an equal status
and nothing is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from edgeplane.edge.runtimes.interface import ContainerState


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(slots=True)
class ContainerView:
    spec: dict[str, Any]
    current: ContainerState | None = None
    previous: ContainerState | None = None
    waiting: tuple[str, str] | None = None  # (reason, message) when the container is not running
    ready: bool = False
    started: bool = False


def _terminated(state: ContainerState, scheme: str) -> dict[str, Any]:
    out: dict[str, Any] = {"exitCode": state.exit_code if state.exit_code is not None else 0,
                           "reason": state.reason or ("Completed" if state.exit_code == 0 else "Error")}
    if state.message:
        out["message"] = state.message
    if state.started_at:
        out["startedAt"] = rfc3339(state.started_at)
    if state.finished_at:
        out["finishedAt"] = rfc3339(state.finished_at)
    out["containerID"] = f"{scheme}://{state.id}"
    return out


def container_status(view: ContainerView, scheme: str) -> dict[str, Any]:
    spec, current, previous = view.spec, view.current, view.previous
    state: dict[str, Any]
    last: dict[str, Any] = {}
    if view.waiting is not None:
        reason, message = view.waiting
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        if current is not None and current.exited:
            last = {"terminated": _terminated(current, scheme)}
    elif current is None:
        state = {"waiting": {"reason": "ContainerCreating"}}
    elif current.running:
        state = {"running": {"startedAt": rfc3339(current.started_at or time.time())}}
    else:
        state = {"terminated": _terminated(current, scheme)}
    if not last and previous is not None and previous.exited:
        last = {"terminated": _terminated(previous, scheme)}
    status: dict[str, Any] = {
        "name": spec["name"],
        "state": state,
        "lastState": last,
        "ready": view.ready,
        "restartCount": current.attempt if current is not None else 0,
        "image": spec.get("image", ""),
        "imageID": (current.image_id if current is not None else "") or "",
        "started": view.started,
    }
    if current is not None:
        status["containerID"] = f"{scheme}://{current.id}"
    return status


def _succeeded(view: ContainerView) -> bool:
    return view.current is not None and view.current.exited and view.current.exit_code == 0


def phase(pod: dict[str, Any], inits: list[ContainerView], mains: list[ContainerView]) -> str:
    """Kubernetes' getPhase: init containers first, then running / waiting / stopped counts."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    for view in inits:
        if _succeeded(view):
            continue
        failed = view.current is not None and view.current.exited
        return "Failed" if failed and policy == "Never" else "Pending"
    running = waiting = stopped = succeeded = 0
    for view in mains:
        current = view.current
        if current is not None and current.running and view.waiting is None:
            running += 1
        elif current is not None and current.exited:
            stopped += 1
            succeeded += current.exit_code == 0
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"  # stopped containers are about to be restarted
    if succeeded == stopped:
        return "Succeeded"
    return "Running" if policy == "OnFailure" else "Failed"


def _condition(kind: str, ok: bool, old: dict[str, dict[str, Any]], reason: str = "", message: str = "") -> dict[str, Any]:
    status = "True" if ok else "False"
    previous = old.get(kind) or {}
    since = previous.get("lastTransitionTime") if previous.get("status") == status else None
    out: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None,
                           "lastTransitionTime": since or rfc3339(time.time())}
    if not ok and reason:
        out["reason"] = reason
        out["message"] = message
    return out


def pod_status(
    pod: dict[str, Any], inits: list[ContainerView], mains: list[ContainerView], *, scheme: str,
    host_ip: str, pod_ip: str,
) -> dict[str, Any]:
    old = pod.get("status") or {}
    old_conditions = {c.get("type", ""): c for c in old.get("conditions") or ()}
    pod_phase = phase(pod, inits, mains)
    pending_inits = [v.spec["name"] for v in inits if not _succeeded(v)]
    unready = [v.spec["name"] for v in mains if not v.ready]
    done = pod_phase in ("Succeeded", "Failed")
    ready_reason = "PodCompleted" if done else "ContainersNotReady"
    ready_message = "" if done else f"containers with unready status: [{' '.join(unready)}]"
    conditions = [
        _condition("PodReadyToStartContainers", True, old_conditions),
        _condition("Initialized", not pending_inits, old_conditions, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(pending_inits)}]"),
        _condition("Ready", not unready and not done, old_conditions, ready_reason, ready_message),
        _condition("ContainersReady", not unready and not done, old_conditions, ready_reason, ready_message),
        _condition("PodScheduled", True, old_conditions),
    ]
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or rfc3339(time.time()),
        "containerStatuses": [container_status(v, scheme) for v in mains],
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if inits:
        status["initContainerStatuses"] = [container_status(v, scheme) for v in inits]
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status
