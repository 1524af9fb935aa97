"""A pod's placement constraints, compiled once: the filters that depend only on the node's labels, name,
taints and schedulability (not on what else runs there), with kube-scheduler's reasons for rejecting a node.

Filters run in kube-scheduler's order (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity) and a
node is rejected by the first that fails, so each node contributes one reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from edgeplane.api import errors
from edgeplane.api.selectors import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    LabelSelector,
    Requirement,
    selector_from_set,
)
from edgeplane.controllers.scheduler.taints import (
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    UNSCHEDULABLE,
    Taint,
    count_untolerated,
    first_untolerated,
    is_tolerated,
)

UNSCHEDULABLE_NODE = "node(s) were unschedulable"
NODE_NAME_MISMATCH = "node(s) didn't match the requested node name"
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"

_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
              "Gt": GREATER_THAN, "Lt": LESS_THAN}
_FIELD_OPERATORS = ("In", "NotIn")
_REQUIRED_PATH = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
_UNSCHEDULABLE_TAINT: Taint = {"key": UNSCHEDULABLE, "effect": NO_SCHEDULE}


class NodeView(Protocol):
    name: str
    labels: Mapping[str, str]
    fields: Mapping[str, str]
    taints: list[Taint]
    unschedulable: bool


class ConstraintError(ValueError):
    """A pod constraint the scheduler cannot evaluate; the message names the field."""


def untolerated_taint(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


def constraints_key(spec: dict[str, Any]) -> bytes:
    """Pods with equal keys have equal constraints (replicas of one template share one compiled copy)."""
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return orjson.dumps(
        [spec.get("nodeName") or "", spec.get("nodeSelector"),
         affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), spec.get("tolerations")],
        option=orjson.OPT_SORT_KEYS,
    )


def _fail(cause: errors.Cause) -> ConstraintError:
    return ConstraintError(f"{cause.field}: {cause.message}")


def _requirement(expression: Any, path: str, operators: tuple[str, ...] = tuple(_OPERATORS)) -> Requirement:
    if not isinstance(expression, dict):
        raise _fail(errors.invalid(path, expression, "must be an object"))
    key, operator = expression.get("key"), expression.get("operator")
    values = expression.get("values") or []
    if not isinstance(key, str) or not key:
        raise _fail(errors.required(f"{path}.key"))
    if operator not in operators:
        raise _fail(errors.not_supported(f"{path}.operator", operator, sorted(operators)))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _fail(errors.invalid(f"{path}.values", values, "must be a list of strings"))
    if operator in ("In", "NotIn") and not values:
        raise _fail(errors.required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    if operator in ("Exists", "DoesNotExist") and values:
        raise _fail(errors.forbidden(f"{path}.values", "may not be specified when `operator` is 'Exists' or "
                                                        "'DoesNotExist'"))
    if operator in ("Gt", "Lt"):
        if len(values) != 1:
            raise _fail(errors.required(f"{path}.values", "must be specified single value when `operator` is "
                                                          "'Lt' or 'Gt'"))
        try:
            int(values[0])
        except ValueError:
            raise _fail(errors.invalid(f"{path}.values[0]", values[0], "must be an integer")) from None
    return Requirement(key, _OPERATORS[operator], tuple(values))


def _term(term: Any, path: str) -> Callable[[NodeView], bool]:
    if not isinstance(term, dict):
        raise _fail(errors.invalid(path, term, "must be an object"))
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not isinstance(expressions, list) or not isinstance(fields, list):
        raise _fail(errors.invalid(path, term, "matchExpressions and matchFields must be lists"))
    if not expressions and not fields:
        return lambda node: False  # an empty term selects no node
    labels = LabelSelector([_requirement(e, f"{path}.matchExpressions[{i}]") for i, e in enumerate(expressions)])
    field_reqs = []
    for i, f in enumerate(fields):
        requirement = _requirement(f, f"{path}.matchFields[{i}]", _FIELD_OPERATORS)
        if requirement.key != "metadata.name":
            raise _fail(errors.not_supported(f"{path}.matchFields[{i}].key", requirement.key, ["metadata.name"]))
        field_reqs.append(requirement)
    names = LabelSelector(field_reqs)
    return lambda node: labels.matches(node.labels) and names.matches(node.fields)


def _required_affinity(spec: dict[str, Any]) -> Callable[[NodeView], bool] | None:
    affinity = spec.get("affinity") or {}
    required = (affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    terms = required.get("nodeSelectorTerms") if isinstance(required, dict) else None
    if not isinstance(terms, list) or not terms:
        raise _fail(errors.required(f"{_REQUIRED_PATH}.nodeSelectorTerms", "must have at least one node selector term"))
    checks = [_term(t, f"{_REQUIRED_PATH}.nodeSelectorTerms[{i}]") for i, t in enumerate(terms)]
    return lambda node: any(check(node) for check in checks)  # terms are ORed


class PodConstraints:
    """Raises ConstraintError when the pod's selector or affinity cannot be evaluated."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.node_name: str = spec.get("nodeName") or ""
        node_selector = spec.get("nodeSelector") or {}
        if not isinstance(node_selector, dict) or not all(isinstance(v, str) for v in node_selector.values()):
            raise _fail(errors.invalid("spec.nodeSelector", node_selector, "must be a map of label keys to values"))
        self._selector = selector_from_set(node_selector) if node_selector else None
        self._affinity = _required_affinity(spec)
        tolerations = spec.get("tolerations") or []
        self.tolerations: list[dict[str, Any]] = [t for t in tolerations if isinstance(t, dict)]
        self._tolerates_unschedulable = is_tolerated(_UNSCHEDULABLE_TAINT, self.tolerations)

    def reject_reason(self, node: NodeView) -> str | None:
        """Why the node cannot take the pod whatever its load, or None if it can."""
        if node.unschedulable and not self._tolerates_unschedulable:
            return UNSCHEDULABLE_NODE
        if self.node_name and self.node_name != node.name:
            return NODE_NAME_MISMATCH
        taint = first_untolerated(node.taints, self.tolerations)
        if taint is not None:
            return untolerated_taint(taint)
        if self._selector is not None and not self._selector.matches(node.labels):
            return AFFINITY_MISMATCH
        if self._affinity is not None and not self._affinity(node):
            return AFFINITY_MISMATCH
        return None

    def preference_penalty(self, node: NodeView) -> int:
        """PreferNoSchedule taints the pod does not tolerate: nodes with fewer are preferred."""
        return count_untolerated(node.taints, self.tolerations, PREFER_NO_SCHEDULE)
