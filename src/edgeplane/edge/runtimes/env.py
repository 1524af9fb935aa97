"""A container's environment and argv, resolved as the kubelet resolves them.

envFrom first, then env (later entries win); values from ConfigMaps, Secrets and the downward API;
``$(VAR)`` references to variables defined earlier are expanded in values, command and args, and
``$$(VAR)`` stays a literal ``$(VAR)``.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from edgeplane.edge.runtimes.interface import ContainerConfigError
from edgeplane.edge.runtimes.volumes import ObjectSource, downward_value

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: unknown references are left as written."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(substitute, text)


def resolve_env(
    container: dict[str, Any], pod: dict[str, Any], store: ObjectSource, where: str
) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for i, source in enumerate(container.get("envFrom") or ()):
        at = f"{where}.envFrom[{i}]"
        prefix = source.get("prefix", "")
        is_secret = "secretRef" in source
        ref = source.get("secretRef" if is_secret else "configMapRef") or {}
        data = _data(store, namespace, ref.get("name", ""), is_secret, bool(ref.get("optional")), at)
        for key, value in (data or {}).items():
            if _ENV_NAME.fullmatch(prefix + key):  # the kubelet skips invalid names (with an event)
                env[prefix + key] = value
    for i, var in enumerate(container.get("env") or ()):
        at = f"{where}.env[{i}] ({var.get('name', '')})"
        name = var.get("name", "")
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(var.get("value") or "", env)
            continue
        source = var["valueFrom"] or {}
        value = _value_from(source, container, pod, store, at)
        if value is not None:
            env[name] = value
    return env


def _value_from(
    source: dict[str, Any], container: dict[str, Any], pod: dict[str, Any], store: ObjectSource, at: str
) -> str | None:
    namespace = pod["metadata"]["namespace"]
    for ref_name, is_secret in (("configMapKeyRef", False), ("secretKeyRef", True)):
        if ref_name in source:
            ref = source[ref_name] or {}
            optional = bool(ref.get("optional"))
            data = _data(store, namespace, ref.get("name", ""), is_secret, optional, at)
            key = ref.get("key", "")
            if data is None or key not in data:
                if optional:
                    return None
                kind = "secret" if is_secret else "configmap"
                raise ContainerConfigError(f'{at}: couldn\'t find key {key} in {kind} {namespace}/{ref.get("name", "")}')
            return data[key]
    if "fieldRef" in source:
        return downward_value(pod, (source["fieldRef"] or {}).get("fieldPath", ""), at)
    if "resourceFieldRef" in source:
        return _resource_value(source["resourceFieldRef"] or {}, container, at)
    raise ContainerConfigError(f"{at}: valueFrom needs configMapKeyRef, secretKeyRef, fieldRef or resourceFieldRef")


def _resource_value(ref: dict[str, Any], container: dict[str, Any], at: str) -> str:
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ContainerConfigError(f"{at}: resourceFieldRef {resource!r} is not supported")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    return str(value) if value is not None else "0"


def _data(
    store: ObjectSource, namespace: str, name: str, is_secret: bool, optional: bool, at: str
) -> dict[str, str] | None:
    obj = store.get("secrets" if is_secret else "configmaps", namespace, name)
    if obj is None:
        if optional:
            return None
        kind = "secret" if is_secret else "configmap"
        raise ContainerConfigError(f'{at}: {kind} "{name}" not found')
    if not is_secret:
        return dict(obj.get("data") or {})
    data = {k: v for k, v in (obj.get("stringData") or {}).items()}
    for key, value in (obj.get("data") or {}).items():
        data[key] = base64.b64decode(value).decode(errors="replace")
    return data
