"""Deployment, ReplicaSet and DaemonSet rules: selectors, templates, replicas, update strategies."""

from __future__ import annotations

from typing import Any

from edgeplane.api import errors
from edgeplane.api.errors import Cause
from edgeplane.api.metadata import immutable, validate_labels
from edgeplane.api.rules.common import at_least, int_or_percent, is_zero, label_selector, selector_matches
from edgeplane.api.rules.pods import validate_pod_spec

DEPLOYMENT_STRATEGIES = ["Recreate", "RollingUpdate"]
DAEMONSET_STRATEGIES = ["OnDelete", "RollingUpdate"]


def validate_deployment(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = _replicated(spec, old, "deployment")
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in DEPLOYMENT_STRATEGIES:
        causes.append(errors.not_supported("spec.strategy.type", kind, DEPLOYMENT_STRATEGIES))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        causes.append(errors.forbidden("spec.strategy.rollingUpdate",
                                       "may not be specified when strategy `type` is 'Recreate'"))
    elif rolling is not None:
        causes += _rolling_update(rolling, "spec.strategy.rollingUpdate")
    causes += at_least("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        causes += at_least("spec.progressDeadlineSeconds", deadline, 0)
        if deadline <= (spec.get("minReadySeconds") or 0):
            causes.append(errors.invalid("spec.progressDeadlineSeconds", deadline,
                                         "must be greater than minReadySeconds"))
    return causes


def validate_replicaset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return _replicated(obj.get("spec") or {}, old, "replicaset")


def validate_daemonset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = _selected_template(spec, old, "daemonset")
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in DAEMONSET_STRATEGIES:
        causes.append(errors.not_supported("spec.updateStrategy.type", kind, DAEMONSET_STRATEGIES))
    if kind == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        causes += _rolling_update(strategy["rollingUpdate"], "spec.updateStrategy.rollingUpdate")
    causes += at_least("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    return causes


def _replicated(spec: dict[str, Any], old: dict[str, Any] | None, what: str) -> list[Cause]:
    causes = at_least("spec.replicas", spec.get("replicas"), 0)
    causes += at_least("spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    return causes + _selected_template(spec, old, what)


def _selected_template(spec: dict[str, Any], old: dict[str, Any] | None, what: str) -> list[Cause]:
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template")
    usable = False
    if selector is None:
        causes.append(errors.required("spec.selector"))
    else:
        selector_causes = label_selector(selector, "spec.selector")
        causes += selector_causes
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(errors.invalid("spec.selector", selector, f"empty selector is invalid for {what}"))
        else:
            usable = not selector_causes
    if template is None:
        if what != "replicaset":
            causes.append(errors.required("spec.template"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        causes += validate_labels(labels, "spec.template.metadata.labels")
        if usable and not selector_matches(selector, labels):
            causes.append(errors.invalid("spec.template.metadata.labels", labels,
                                         "`selector` does not match template `labels`"))
        pod_spec = template.get("spec") or {}
        causes += validate_pod_spec(pod_spec, "spec.template.spec")
        policy = pod_spec.get("restartPolicy")
        if policy is not None and policy != "Always":
            causes.append(errors.not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            causes.append(errors.forbidden("spec.template.spec.activeDeadlineSeconds",
                                           "activeDeadlineSeconds in ReplicaSet is not Supported"))
    if old is not None:
        causes += immutable("spec.selector", selector, (old.get("spec") or {}).get("selector"))
    return causes


def _rolling_update(rolling: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    if unavailable is not None:
        causes += int_or_percent(f"{path}.maxUnavailable", unavailable)
    if surge is not None:
        causes += int_or_percent(f"{path}.maxSurge", surge)
    if unavailable is not None and surge is not None and is_zero(unavailable) and is_zero(surge):
        causes.append(errors.invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    return causes
