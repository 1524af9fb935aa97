"""One string object per repeated value in the objects the watch cache keeps decoded.

Kubernetes objects repeat the same short values: every Node's "v1", "Node", "Ready", "True",
"KubeletReady", "8Gi"; every Lease's "coordination.k8s.io/v1" and "kube-node-lease"; every pod's image,
"Always", "ClusterFirst", "/dev/termination-log". Decoding gives each its own copy (50-70 bytes apiece), and
the watch cache holds one decoded object per key for as long as the key exists, so the copies add up to a
kilobyte per Node and more per Pod. Interning them costs a walk of the object when it enters the cache.

Values that are unique by nature (uids, timestamps, resourceVersions) are left alone, so they do not fill
the interpreter's table of interned strings; so are long values and the payload of ConfigMaps and Secrets.
"""

from __future__ import annotations

import sys
from typing import Any

MAX_LENGTH = 64  # longer values rarely repeat (messages, certificates, scripts)

# Fields whose values differ on every object or every update.
_UNIQUE = frozenset({
    "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "renewTime", "acquireTime",
    "lastHeartbeatTime", "lastTransitionTime", "lastProbeTime", "lastUpdateTime", "lastTimestamp",
    "firstTimestamp", "eventTime", "startTime", "startedAt", "finishedAt", "time", "containerID", "podIP",
    "ip", "message", "continue",
})
# Subtrees of free-form content, not worth walking.
_SKIP = frozenset({"data", "binaryData", "stringData"})

_intern = sys.intern


def share_strings(obj: dict[str, Any]) -> dict[str, Any]:
    """Interns the repeatable string values of ``obj`` in place (iteratively: objects may nest deeply)."""
    stack: list[dict[str, Any] | list[Any]] = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if type(value) is str:
                    if len(value) <= MAX_LENGTH and key not in _UNIQUE:
                        node[key] = _intern(value)
                elif isinstance(value, (dict, list)) and key not in _SKIP:
                    stack.append(value)
        else:
            for i, value in enumerate(node):
                if type(value) is str:
                    if len(value) <= MAX_LENGTH:
                        node[i] = _intern(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
    return obj
