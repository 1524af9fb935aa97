"""NodePool attributes on nodes: what is put on, what is taken off, and what is never touched."""

from __future__ import annotations

import json
from typing import Any

from edgeplane.controllers.nodepool import PoolAttributes, conciliate_node, pool_status

PREVIOUS = "nodepool.openyurt.io/previous-attributes"
TAINT = {"key": "pool", "value": "hz", "effect": "NoSchedule"}


def _node(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
          taints: list[dict[str, Any]] | None = None, ready: str = "True") -> dict[str, Any]:
    node: dict[str, Any] = {"metadata": {"name": "n1", "labels": labels or {}, "annotations": annotations or {}},
                            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}
    if taints:
        node["spec"]["taints"] = taints
    return node


def _pool(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "hz"}, "spec": spec}


def test_joining_puts_the_pools_attributes_on_and_records_them() -> None:
    node = _node({"team": "blue"}, taints=[{"key": "gpu", "effect": "NoSchedule"}])
    out = conciliate_node(node, _pool(labels={"region": "hz"}, annotations={"a": "1"}, taints=[TAINT],
                                      hostNetwork=True))
    assert out is not None
    assert out["metadata"]["labels"] == {"team": "blue", "region": "hz", "nodepool.openyurt.io/hostnetwork": "true"}
    assert out["metadata"]["annotations"]["a"] == "1"
    assert out["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}, TAINT]
    assert json.loads(out["metadata"]["annotations"][PREVIOUS]) == {
        "labels": {"region": "hz", "nodepool.openyurt.io/hostnetwork": "true"}, "annotations": {"a": "1"},
        "taints": [TAINT]}
    assert node["metadata"]["labels"] == {"team": "blue"}, "the cached node is never changed in place"


def test_a_node_already_matching_its_pool_needs_no_write() -> None:
    pool = _pool(labels={"region": "hz"}, taints=[TAINT])
    once = conciliate_node(_node(), pool)
    assert once is not None and conciliate_node(once, pool) is None
    assert conciliate_node(_node({"x": "y"}), None) is None


def test_leaving_takes_off_only_what_the_pool_put_there() -> None:
    joined = conciliate_node(_node({"team": "blue"}, taints=[{"key": "gpu", "effect": "NoSchedule"}]),
                             _pool(labels={"region": "hz", "zone": "a"}, annotations={"a": "1"}, taints=[TAINT]))
    assert joined is not None
    joined["metadata"]["labels"]["zone"] = "user-set"  # changed by a user since: no longer the pool's value
    left = conciliate_node(joined, None)
    assert left is not None
    assert left["metadata"]["labels"] == {"team": "blue", "zone": "user-set"}
    assert left["metadata"]["annotations"] == {}
    assert left["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]


def test_a_changed_pool_swaps_old_attributes_for_new_ones() -> None:
    joined = conciliate_node(_node(), _pool(labels={"old": "1"}, taints=[TAINT]))
    assert joined is not None
    new_taint = {"key": "pool", "value": "hz2", "effect": "NoSchedule"}
    changed = conciliate_node(joined, _pool(labels={"new": "2"}, taints=[new_taint]))
    assert changed is not None
    assert changed["metadata"]["labels"] == {"new": "2"} and changed["spec"]["taints"] == [new_taint]


def test_an_unreadable_record_counts_as_nothing_applied() -> None:
    out = conciliate_node(_node({"region": "hz"}, {PREVIOUS: "{not json"}), None)
    assert out is not None and out["metadata"]["labels"] == {"region": "hz"} and PREVIOUS not in out["metadata"][
        "annotations"]
    assert PoolAttributes.recorded_on(_node(annotations={PREVIOUS: "[1, 2]"})).empty()


def test_pool_status_counts_ready_nodes_and_lists_names_sorted() -> None:
    a, b, c = _node(), _node(ready="False"), _node(ready="Unknown")
    for node, name in ((a, "z"), (b, "a"), (c, "m")):
        node["metadata"]["name"] = name
    assert pool_status([a, b, c]) == {"readyNodeNum": 1, "unreadyNodeNum": 2, "nodes": ["a", "m", "z"]}
    assert pool_status([]) == {"readyNodeNum": 0, "unreadyNodeNum": 0}
