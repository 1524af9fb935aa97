"""Validation of NodePool and YurtAppSet beyond their schemas, as OpenYurt's admission webhooks check them."""

from __future__ import annotations

from typing import Any

from edgeplane.api import errors, names
from edgeplane.api.errors import Cause
from edgeplane.api.metadata import immutable, validate_labels
from edgeplane.api.rules.common import at_least, label_selector, one_of
from edgeplane.api.rules.pods import TAINT_EFFECTS

NODEPOOL_TYPES = ["Edge", "Cloud"]
ELECTION_STRATEGIES = ["mark", "random"]
TEMPLATE_KINDS = ("deploymentTemplate", "statefulSetTemplate")


def validate_nodepool(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = one_of("spec.type", spec.get("type"), NODEPOOL_TYPES)
    if spec.get("type") == "Cloud" and spec.get("hostNetwork"):
        causes.append(errors.invalid("spec.hostNetwork", True, "a Cloud NodePool does not support hostNetwork"))
    causes += validate_labels(spec.get("labels"), "spec.labels")
    for key in spec.get("annotations") or {}:
        causes += [errors.invalid("spec.annotations", key, m) for m in names.qualified_name(key.lower())]
    causes += _taints(spec.get("taints") or [], "spec.taints")
    causes += one_of("spec.leaderElectionStrategy", spec.get("leaderElectionStrategy") or None, ELECTION_STRATEGIES)
    causes += validate_labels(spec.get("leaderNodeLabelSelector"), "spec.leaderNodeLabelSelector")
    if spec.get("enableLeaderElection") and spec.get("leaderElectionStrategy") == "mark" \
            and not spec.get("leaderNodeLabelSelector"):
        causes.append(errors.required("spec.leaderNodeLabelSelector",
                                      "must be specified when `leaderElectionStrategy` is 'mark'"))
    causes += at_least("spec.leaderReplicas", spec.get("leaderReplicas"), 0)
    if old is not None:
        old_spec = old.get("spec") or {}
        for field in ("type", "hostNetwork", "interConnectivity"):
            causes += immutable(f"spec.{field}", spec.get(field), old_spec.get(field))
    return causes


def _taints(taints: list[dict[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(taints):
        here = f"{path}[{index}]"
        key, effect = taint.get("key", ""), taint.get("effect", "")
        causes += [errors.invalid(f"{here}.key", key, m) for m in names.qualified_name(key)]
        causes += [errors.invalid(f"{here}.value", taint.get("value"), m)
                   for m in names.label_value(taint.get("value") or "")]
        causes += one_of(f"{here}.effect", effect or None, TAINT_EFFECTS)
        if (key, effect) in seen:
            causes.append(errors.duplicate(here, f"{key}:{effect}"))
        seen.add((key, effect))
    return causes


def validate_yurtappset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    workload = spec.get("workload") or {}
    template = workload.get("workloadTemplate") or {}
    given = [kind for kind in TEMPLATE_KINDS if template.get(kind) is not None]
    path = "spec.workload.workloadTemplate"
    causes: list[Cause] = []
    if not given:
        causes.append(errors.required(path, "one of `deploymentTemplate` or `statefulSetTemplate` must be given"))
    elif len(given) > 1:
        causes.append(errors.forbidden(path, "only one of `deploymentTemplate` or `statefulSetTemplate` may be "
                                             "given"))
    for kind in given:
        causes += validate_labels(((template[kind].get("metadata") or {}).get("labels")), f"{path}.{kind}."
                                                                                          "metadata.labels")
    causes += _pools(spec, "spec")
    causes += at_least("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    for index, tweak in enumerate(workload.get("workloadTweaks") or []):
        causes += _tweak(tweak, f"spec.workload.workloadTweaks[{index}]")
    return causes


def _pools(holder: dict[str, Any], path: str) -> list[Cause]:
    causes = [errors.invalid(f"{path}.pools[{i}]", pool, m)
              for i, pool in enumerate(holder.get("pools") or []) for m in names.dns1123_label(pool)]
    if holder.get("nodepoolSelector") is not None:
        causes += label_selector(holder["nodepoolSelector"], f"{path}.nodepoolSelector")
    return causes


def _tweak(tweak: dict[str, Any], path: str) -> list[Cause]:
    causes = _pools(tweak, path)
    tweaks = tweak.get("tweaks") or {}
    causes += at_least(f"{path}.tweaks.replicas", tweaks.get("replicas"), 0)
    for index, image in enumerate(tweaks.get("containerImages") or []):
        for field in ("name", "targetImage"):
            if not image.get(field):
                causes.append(errors.required(f"{path}.tweaks.containerImages[{index}].{field}"))
    for index, patch in enumerate(tweaks.get("patches") or []):
        here = f"{path}.tweaks.patches[{index}]"
        pointer = patch.get("path", "")
        if not pointer.startswith("/"):
            causes.append(errors.invalid(f"{here}.path", pointer, "must be a JSON pointer starting with '/'"))
        if patch.get("operation") in ("add", "replace") and "value" not in patch:
            causes.append(errors.required(f"{here}.value", f"must be given for operation {patch['operation']!r}"))
    return causes
