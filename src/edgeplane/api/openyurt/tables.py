"""``kubectl get np`` and ``kubectl get yas`` columns: OpenYurt's printer columns for the two kinds."""

from __future__ import annotations

from edgeplane.api.tables import AGE_DESCRIPTION, custom_printer

NODEPOOLS = custom_printer([
    {"name": "Type", "type": "string", "jsonPath": ".spec.type", "description": "The type of nodepool"},
    {"name": "ReadyNodes", "type": "integer", "jsonPath": ".status.readyNodeNum",
     "description": "The number of ready nodes in the pool"},
    {"name": "NotReadyNodes", "type": "integer", "jsonPath": ".status.unreadyNodeNum",
     "description": "The number of not ready nodes in the pool"},
    # Leader election of pool hubs is an edge-side feature: shown with -o wide only.
    {"name": "LeaderNodes", "type": "integer", "jsonPath": ".status.leaderNum", "priority": 1,
     "description": "The leader node of the nodepool"},
    {"name": "LeaderElectionAge", "type": "date", "jsonPath": ".status.leaderLastElectedTime", "priority": 1,
     "description": "The time when the leader yurthub is elected"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp", "description": AGE_DESCRIPTION},
])

YURTAPPSETS = custom_printer([
    {"name": "TOTAL", "type": "integer", "jsonPath": ".status.totalWorkloads",
     "description": "The total number of workloads."},
    {"name": "READY", "type": "integer", "jsonPath": ".status.readyWorkloads",
     "description": "The number of workloads ready."},
    {"name": "UPDATED", "type": "integer", "jsonPath": ".status.updatedWorkloads",
     "description": "The number of workloads updated."},
    {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp", "description": AGE_DESCRIPTION},
])
