"""What controllers ask of pods: is it active, ready, available; which to delete first when scaling down."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_active(pod: Obj) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond
    return None


def is_ready(pod: Obj) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def available_in(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """Seconds until a ready pod counts as available (0 when it already does); None when it is not ready."""
    cond = ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = parse_time(cond.get("lastTransitionTime"))
    if since is None:
        return 0.0
    return max(0.0, min_ready_seconds - (now - since).total_seconds())


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    return available_in(pod, min_ready_seconds, now) == 0.0


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or ())


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """Pods sorted so the ones to delete first come first, by Kubernetes' rules: unscheduled before scheduled,
    pending before unknown before running, not ready before ready, more siblings on the same node first,
    ready for less time first, more restarts first, newer before older."""
    per_node = Counter((p.get("spec") or {}).get("nodeName") for p in pods)
    now = datetime.now(UTC)

    def key(pod: Obj) -> tuple[Any, ...]:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase", "Pending")
        ready = is_ready(pod)
        ready_since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime")) if ready else None
        created = parse_time(pod["metadata"].get("creationTimestamp")) or now
        return (
            bool(node),
            _PHASE_RANK.get(phase, 0),
            ready,
            -per_node[node] if node else 0,
            -(ready_since or now).timestamp(),
            -_restarts(pod),
            -created.timestamp(),
        )

    return sorted(pods, key=key)
