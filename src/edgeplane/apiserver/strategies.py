"""Per-kind work kube-apiserver does when an object is created: what defaults cannot express."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from typing import Any

# Service cluster IPs come from Kubernetes' default service range.
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _qos_class(spec: dict[str, Any]) -> str:
    """Kubernetes' pod QoS class from its containers' requests and limits."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            limit = limits.get(name)
            if limit is None or str(requests.get(name, limit)) != str(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


# DefaultTolerationSeconds admission: how long pods stay bound to a node that stopped reporting.
DEFAULT_TOLERATION_SECONDS = 300
_NODE_GONE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _default_tolerations(spec: dict[str, Any]) -> None:
    """Add 300 s NoExecute tolerations for the not-ready and unreachable taints, unless already tolerated."""
    tolerations = spec.get("tolerations") or []
    if not isinstance(tolerations, list):
        return  # validation reports it
    # Keys tolerated for NoExecute ("" tolerates every key).
    covered = {t.get("key", "") for t in tolerations if isinstance(t, dict) and t.get("effect", "") in ("", "NoExecute")}
    if "" not in covered:
        tolerations.extend({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
                           for key in _NODE_GONE_TAINTS if key not in covered)
    spec["tolerations"] = tolerations


def _pod(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _default_tolerations(spec)
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec or {})}


def _service(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
        return
    if not spec.get("clusterIP"):
        offset = 1 + secrets.randbelow(SERVICE_CIDR.num_addresses - 2)
        spec["clusterIP"] = str(SERVICE_CIDR.network_address + offset)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    obj["status"] = {"loadBalancer": {}}


def _namespace(obj: dict[str, Any]) -> None:
    obj["status"] = {"phase": "Active"}


PREPARE_FOR_CREATE: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
}
