"""Taints and tolerations, matched as k8s.io/api/core/v1 Toleration.ToleratesTaint does.

Shared by the scheduler (NoSchedule/NoExecute filter, PreferNoSchedule score) and the node lifecycle
controller (NoExecute eviction timing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

# Taints Kubernetes itself puts on nodes.
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

Taint = dict[str, Any]
Toleration = dict[str, Any]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False  # an empty key with operator Exists tolerates every taint
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def is_tolerated(taint: Taint, tolerations: Iterable[Toleration]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated(taints: Iterable[Taint], tolerations: Sequence[Toleration],
                      effects: tuple[str, ...] = (NO_SCHEDULE, NO_EXECUTE)) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates (what blocks scheduling)."""
    for taint in taints:
        if taint.get("effect") in effects and not is_tolerated(taint, tolerations):
            return taint
    return None


def count_untolerated(taints: Iterable[Taint], tolerations: Sequence[Toleration], effect: str) -> int:
    return sum(1 for t in taints if t.get("effect") == effect and not is_tolerated(t, tolerations))


def eviction_delay(taints: Iterable[Taint], tolerations: Sequence[Toleration]) -> float | None:
    """Seconds a pod may stay on a node with these taints: 0 for at once, None for as long as they last.

    As the taint manager's getMinTolerationTime: every NoExecute taint must be tolerated (by the first
    matching toleration), and the shortest tolerationSeconds among those wins.
    """
    delay: float | None = None
    for taint in taints:
        if taint.get("effect") != NO_EXECUTE:
            continue
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return 0.0
        seconds = match.get("tolerationSeconds")
        if seconds is not None:
            if seconds <= 0:
                return 0.0
            delay = float(seconds) if delay is None else min(delay, float(seconds))
    return delay
