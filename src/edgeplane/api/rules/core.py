"""Rules for the small core kinds: ConfigMap, Secret, Service, Namespace, Node, Event, Lease, Binding."""

from __future__ import annotations

import base64
from typing import Any

from edgeplane.api import errors, names
from edgeplane.api.errors import Cause
from edgeplane.api.metadata import immutable, validate_labels
from edgeplane.api.rules.common import PROTOCOLS, at_least, one_of, port_name_or_number, port_number, positive
from edgeplane.api.rules.pods import TAINT_EFFECTS

MAX_CONFIG_SIZE = 1024 * 1024
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
IMMUTABLE_DATA = "field is immutable when `immutable` is set"

# Secret types whose data must hold particular keys.
SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def _keys(obj: dict[str, Any], fields: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    for field in fields:
        for key in obj.get(field) or {}:
            causes += [errors.invalid(f"{field}[{key}]", key, m) for m in names.config_key(key)]
    return causes


def _immutable_data(obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = [errors.forbidden(f, IMMUTABLE_DATA) for f in fields if obj.get(f) != old.get(f)]
    if not obj.get("immutable"):
        causes.append(errors.forbidden("immutable", IMMUTABLE_DATA))
    return causes


def validate_configmap(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = _keys(obj, ("data", "binaryData"))
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    size = 0
    for key, value in data.items():
        size += len(key) + len(value)
        if key in binary:
            causes.append(errors.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    for key, value in binary.items():
        size += len(key) + len(value) * 3 // 4
    if size > MAX_CONFIG_SIZE:
        causes.append(Cause(errors.TOO_LONG, f"Too long: must have at most {MAX_CONFIG_SIZE} bytes", ""))
    return causes + _immutable_data(obj, old, ("data", "binaryData"))


def validate_secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = _keys(obj, ("data", "stringData"))
    data = obj.get("data") or {}
    kind = obj.get("type") or "Opaque"
    for key in SECRET_REQUIRED_KEYS.get(kind, ()):
        if key not in data:
            causes.append(errors.required(f"data[{key}]"))
    if kind == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(errors.required("metadata.annotations[kubernetes.io/service-account.name]"))
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes.append(errors.required("data[username]", "either username or password must be specified"))
    size = sum(len(k) + len(base64.b64decode(v or "")) for k, v in data.items())
    if size > MAX_CONFIG_SIZE:
        causes.append(Cause(errors.TOO_LONG, f"Too long: must have at most {MAX_CONFIG_SIZE} bytes", "data"))
    if old is not None:
        causes += immutable("type", kind, old.get("type") or "Opaque")
    return causes + _immutable_data(obj, old, ("data",))


def validate_service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    kind = spec.get("type", "ClusterIP")
    causes += one_of("spec.type", kind, SERVICE_TYPES)
    causes += one_of("spec.sessionAffinity", spec.get("sessionAffinity"), SESSION_AFFINITIES)
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if kind == "ExternalName":
        external = spec.get("externalName") or ""
        if not external:
            causes.append(errors.required("spec.externalName"))
        else:
            causes += [errors.invalid("spec.externalName", external, m) for m in names.dns1123_subdomain(external)]
    elif not ports and not headless:
        causes.append(errors.required("spec.ports"))
    seen: set[str] = set()
    for index, port in enumerate(ports):
        here = f"spec.ports[{index}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append(errors.required(f"{here}.name"))
        if name:
            causes += [errors.invalid(f"{here}.name", name, m) for m in names.dns1123_label(name)]
            if name in seen:
                causes.append(errors.duplicate(f"{here}.name", name))
            seen.add(name)
        causes += port_number(f"{here}.port", port.get("port"))
        causes += one_of(f"{here}.protocol", port.get("protocol"), PROTOCOLS)
        if "targetPort" in port:
            causes += port_name_or_number(f"{here}.targetPort", port["targetPort"])
        if port.get("nodePort"):
            if kind not in ("NodePort", "LoadBalancer"):
                causes.append(errors.forbidden(f"{here}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            causes += port_number(f"{here}.nodePort", port["nodePort"])
    causes += validate_labels(spec.get("selector"), "spec.selector")
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = spec.get("clusterIP")
        if old_ip and new_ip and new_ip != old_ip and kind != "ExternalName":
            causes.append(errors.invalid("spec.clusterIP", new_ip, "field is immutable"))
    return causes


def validate_namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    finalizers = (obj.get("spec") or {}).get("finalizers") or []
    causes: list[Cause] = []
    for index, finalizer in enumerate(finalizers):
        causes += [errors.invalid(f"spec.finalizers[{index}]", finalizer, m) for m in names.qualified_name(finalizer)]
    phase = (obj.get("status") or {}).get("phase")
    return causes + one_of("status.phase", phase, ["Active", "Terminating"])


def validate_node(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes: list[Cause] = []
    for index, taint in enumerate((obj.get("spec") or {}).get("taints") or ()):
        here = f"spec.taints[{index}]"
        key = taint.get("key", "")
        causes += [errors.invalid(f"{here}.key", key, m) for m in names.qualified_name(key)]
        if not taint.get("effect"):
            causes.append(errors.required(f"{here}.effect"))
        else:
            causes += one_of(f"{here}.effect", taint["effect"], TAINT_EFFECTS)
    return causes


def validate_event(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    involved = obj.get("involvedObject") or {}
    namespace = (obj.get("metadata") or {}).get("namespace", "")
    target_ns = involved.get("namespace")
    if target_ns and namespace and target_ns != namespace:
        return [errors.invalid("involvedObject.namespace", target_ns, "does not match event.namespace")]
    return []


def validate_lease(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = positive("spec.leaseDurationSeconds", spec.get("leaseDurationSeconds"))
    causes += at_least("spec.leaseTransitions", spec.get("leaseTransitions"), 0)
    return causes


def validate_binding(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    target = obj.get("target") or {}
    causes: list[Cause] = []
    if target.get("kind") not in (None, "", "Node"):
        causes.append(errors.not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
    if not target.get("name"):
        causes.append(errors.required("target.name"))
    return causes


def no_rules(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return []
