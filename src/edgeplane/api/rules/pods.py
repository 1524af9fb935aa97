"""Pod rules: the pod spec (also inside workload templates) and what a pod update may change."""

from __future__ import annotations

import copy
from typing import Any

from edgeplane.api import errors, names
from edgeplane.api.errors import Cause
from edgeplane.api.metadata import validate_labels
from edgeplane.api.rules.common import PROTOCOLS, at_least, one_of, port_name_or_number, port_number, positive

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
TOLERATION_OPERATORS = ["Equal", "Exists"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def validate_pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = validate_pod_spec(obj.get("spec") or {}, "spec")
    if old is not None:
        causes += validate_pod_update(obj.get("spec") or {}, old.get("spec") or {})
    return causes


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    volumes = _volumes(spec.get("volumes") or [], f"{path}.volumes", causes)
    containers = spec.get("containers") or []
    if not containers:
        causes.append(errors.required(f"{path}.containers"))
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(field) or ()):
            causes += _container(container, f"{path}.{field}[{index}]", seen, volumes)
    causes += one_of(f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    causes += one_of(f"{path}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES)
    causes += positive(f"{path}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"))
    causes += at_least(f"{path}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds"), 0)
    for key in ("nodeName", "serviceAccountName", "hostname"):
        value = spec.get(key)
        if value:
            check = names.dns1123_label if key == "hostname" else names.dns1123_subdomain
            causes += [errors.invalid(f"{path}.{key}", value, m) for m in check(value)]
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for index, toleration in enumerate(spec.get("tolerations") or ()):
        here = f"{path}.tolerations[{index}]"
        operator = toleration.get("operator")
        causes += one_of(f"{here}.operator", operator, TOLERATION_OPERATORS)
        causes += one_of(f"{here}.effect", toleration.get("effect") or None, TAINT_EFFECTS)
        if operator == "Exists" and toleration.get("value"):
            causes.append(errors.invalid(f"{here}.operator", operator,
                                         "value must be empty when `operator` is 'Exists'"))
        if not toleration.get("key") and operator != "Exists":
            causes.append(errors.invalid(f"{here}.operator", operator or "",
                                         "operator must be Exists when `key` is empty, which means \"match all "
                                         "values and all keys\""))
    return causes


def _volumes(volumes: list[dict[str, Any]], path: str, causes: list[Cause]) -> set[str]:
    found: set[str] = set()
    for index, volume in enumerate(volumes):
        name = volume.get("name", "")
        here = f"{path}[{index}].name"
        if not name:
            causes.append(errors.required(here))
            continue
        causes += [errors.invalid(here, name, m) for m in names.dns1123_label(name)]
        if name in found:
            causes.append(errors.duplicate(here, name))
        found.add(name)
    return found


def _container(container: dict[str, Any], path: str, seen: set[str], volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = container.get("name", "")
    if not name:
        causes.append(errors.required(f"{path}.name"))
    else:
        causes += [errors.invalid(f"{path}.name", name, m) for m in names.dns1123_label(name)]
        if name in seen:
            causes.append(errors.duplicate(f"{path}.name", name))
        seen.add(name)
    image = container.get("image")
    if not image or not image.strip():
        causes.append(errors.required(f"{path}.image"))
    causes += one_of(f"{path}.imagePullPolicy", container.get("imagePullPolicy"), PULL_POLICIES)
    causes += one_of(f"{path}.terminationMessagePolicy", container.get("terminationMessagePolicy"), MESSAGE_POLICIES)
    port_names: set[str] = set()
    for index, port in enumerate(container.get("ports") or ()):
        here = f"{path}.ports[{index}]"
        causes += port_number(f"{here}.containerPort", port.get("containerPort"))
        if "hostPort" in port:
            causes += port_number(f"{here}.hostPort", port["hostPort"], allow_zero=True)
        causes += one_of(f"{here}.protocol", port.get("protocol"), PROTOCOLS)
        port_name = port.get("name")
        if port_name:
            causes += [errors.invalid(f"{here}.name", port_name, m) for m in names.port_name(port_name)]
            if port_name in port_names:
                causes.append(errors.duplicate(f"{here}.name", port_name))
            port_names.add(port_name)
    for index, env in enumerate(container.get("env") or ()):
        if not env.get("name"):
            causes.append(errors.required(f"{path}.env[{index}].name"))
    for index, mount in enumerate(container.get("volumeMounts") or ()):
        here = f"{path}.volumeMounts[{index}]"
        mount_name = mount.get("name", "")
        if not mount_name:
            causes.append(errors.required(f"{here}.name"))
        elif mount_name not in volumes:
            causes.append(errors.Cause("FieldValueNotFound", f'Not found: "{mount_name}"', f"{here}.name"))
        if not mount.get("mountPath"):
            causes.append(errors.required(f"{here}.mountPath"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        http = ((container.get(probe) or {}).get("httpGet")) or {}
        if "port" in http:
            causes += port_name_or_number(f"{path}.{probe}.httpGet.port", http["port"])
    return causes


def validate_pod_update(spec: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Only images, activeDeadlineSeconds, added tolerations and a negative grace period may change."""
    mutable = copy.deepcopy(spec)
    for field in ("containers", "initContainers"):
        old_list = old.get(field) or []
        for index, container in enumerate(mutable.get(field) or ()):
            if index < len(old_list) and "image" in old_list[index]:
                container["image"] = old_list[index]["image"]
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        if key in old:
            mutable[key] = old[key]
        else:
            mutable.pop(key, None)
    old_tolerations = old.get("tolerations") or []
    new_tolerations = mutable.get("tolerations") or []
    if all(t in new_tolerations for t in old_tolerations):
        if old_tolerations:
            mutable["tolerations"] = old_tolerations
        else:
            mutable.pop("tolerations", None)
    causes: list[Cause] = []
    if mutable != old:
        causes.append(errors.forbidden("spec", POD_UPDATE_FORBIDDEN))
    deadline, old_deadline = spec.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if old_deadline is not None and (deadline is None or deadline > old_deadline):
        causes.append(errors.invalid("spec.activeDeadlineSeconds", deadline,
                                     "must be less than or equal to previous value"))
    return causes
