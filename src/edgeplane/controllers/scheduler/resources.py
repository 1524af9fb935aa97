"""What a pod asks for and what a node offers, in integer units (cpu in millicores, the rest in units).

A pod requests the larger of its containers' sum and any one init container, plus its overhead, as
kube-scheduler computes it. For scoring, containers without requests count as 100m CPU and 200Mi memory
(kube-scheduler's non-zero defaults), so pods without requests still spread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from edgeplane.api.quantity import QuantityError, cpu_millis, memory_bytes

log = logging.getLogger(__name__)

CPU, MEMORY, PODS = "cpu", "memory", "pods"
DEFAULT_CPU_MILLIS = 100
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024


@lru_cache(maxsize=8192)
def amount(resource: str, quantity: str | int | float) -> int:
    """A quantity of one resource as an integer: millicores for cpu, whole units (bytes, ...) otherwise."""
    return cpu_millis(quantity) if resource == CPU else memory_bytes(quantity)


@dataclass(frozen=True, slots=True)
class PodUsage:
    cpu: int
    memory: int
    other: tuple[tuple[str, int], ...]  # extended resources, ephemeral-storage, ...
    nonzero_cpu: int
    nonzero_memory: int
    owner: str  # uid of the controlling owner, "" for none

    @property
    def requests_nothing(self) -> bool:
        return not (self.cpu or self.memory or self.other)


def _container_requests(container: dict[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    # Requests default to limits (API defaulting does the same for a limit without a request).
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {name: amount(name, q) for name, q in merged.items()}


def controller_uid(pod: dict[str, Any]) -> str:
    for ref in pod["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def pod_usage(pod: dict[str, Any]) -> PodUsage:
    """Raises QuantityError for a request that is not a quantity."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    nonzero_cpu = nonzero_memory = 0
    for container in spec.get("containers") or ():
        requests = _container_requests(container)
        for name, value in requests.items():
            total[name] = total.get(name, 0) + value
        nonzero_cpu += requests.get(CPU) or DEFAULT_CPU_MILLIS
        nonzero_memory += requests.get(MEMORY) or DEFAULT_MEMORY_BYTES
    for container in spec.get("initContainers") or ():
        requests = _container_requests(container)
        for name, value in requests.items():
            total[name] = max(total.get(name, 0), value)
        nonzero_cpu = max(nonzero_cpu, requests.get(CPU) or DEFAULT_CPU_MILLIS)
        nonzero_memory = max(nonzero_memory, requests.get(MEMORY) or DEFAULT_MEMORY_BYTES)
    for name, q in (spec.get("overhead") or {}).items():
        value = amount(name, q)
        total[name] = total.get(name, 0) + value
        if name == CPU:
            nonzero_cpu += value
        elif name == MEMORY:
            nonzero_memory += value
    cpu, memory = total.pop(CPU, 0), total.pop(MEMORY, 0)
    total.pop(PODS, None)
    other = tuple(sorted((k, v) for k, v in total.items() if v))
    return PodUsage(cpu, memory, other, nonzero_cpu, nonzero_memory, controller_uid(pod))


def node_allocatable(node: dict[str, Any]) -> dict[str, int]:
    """status.allocatable (or capacity when a node reports no allocatable); a bad quantity counts as 0."""
    status = node.get("status") or {}
    offered = status.get("allocatable") or status.get("capacity") or {}
    out: dict[str, int] = {}
    for name, q in offered.items():
        try:
            out[name] = amount(name, q)
        except QuantityError as exc:
            log.warning("node %s: allocatable %s: %s; counted as 0", node["metadata"].get("name"), name, exc)
            out[name] = 0
    return out
