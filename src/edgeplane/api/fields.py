"""Field selector support: which fields each kind can be selected by, and their values as strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], str | None]


def path_getter(path: str) -> Getter:
    """A getter for a dotted path; missing values read as "" like Kubernetes' field sets."""
    keys = path.split(".")

    def get(obj: dict[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            if not isinstance(value, dict):
                return ""
            value = value.get(key)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


def _event_source(obj: dict[str, Any]) -> str:
    return (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""


COMMON = ("metadata.name", "metadata.namespace")

# Kubernetes' per-kind field label conversions (besides metadata.name and metadata.namespace).
PER_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "Event"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    ("", "Node"): ("spec.unschedulable",),
    ("", "Secret"): ("type",),
    ("", "Namespace"): ("status.phase",),
    ("apps", "ReplicaSet"): ("status.replicas",),
}

SPECIAL: dict[str, Getter] = {"source": _event_source}


def getters_for(group: str, kind: str) -> dict[str, Getter]:
    fields = COMMON + PER_KIND.get((group, kind), ())
    return {f: SPECIAL.get(f) or path_getter(f) for f in fields}
