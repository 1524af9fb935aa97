"""Defaults OpenYurt's mutating webhooks set on NodePools and YurtAppSets; each only fills what is missing."""

from __future__ import annotations

from typing import Any

from edgeplane.api.openyurt import NODEPOOL_TYPE_LABEL

# Pool-scoped metadata every pool shares unless told otherwise (OpenYurt's v1beta2 defaulting webhook).
DEFAULT_POOL_SCOPE_METADATA = (
    {"group": "", "version": "v1", "resource": "services"},
    {"group": "discovery.k8s.io", "version": "v1", "resource": "endpointslices"},
)
DEFAULT_REVISION_HISTORY_LIMIT = 10


def nodepool(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "Edge")
    if isinstance(spec["type"], str):
        # The pool's type as a label lets YurtAppSets and users select pools by it.
        obj.setdefault("metadata", {}).setdefault("labels", {})[NODEPOOL_TYPE_LABEL] = spec["type"].lower()
    if not spec.get("leaderElectionStrategy"):
        spec["leaderElectionStrategy"] = "random"
    if not spec.get("leaderReplicas"):
        spec["leaderReplicas"] = 1
    scope = spec.setdefault("poolScopeMetadata", [])
    for entry in DEFAULT_POOL_SCOPE_METADATA:
        if entry not in scope:
            scope.append(dict(entry))


def yurtappset(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
