"""NodePools against a real `edgeplane cloud`: membership by node label, pool attributes on nodes, status."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.controllers.openyurt.cluster import Kubectl, apply, get_json, node_object, wait_for

PREVIOUS = "nodepool.openyurt.io/previous-attributes"


def _pool(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool", "metadata": {"name": name},
            "spec": {"type": "Edge", **spec}}


def _taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    return (node.get("spec") or {}).get("taints") or []


def test_node_labelled_into_a_pool_takes_its_attributes_and_gives_them_back(kubectl: Kubectl) -> None:
    taint = {"key": "apps.openyurt.io/example", "value": "test-hangzhou", "effect": "NoSchedule"}
    apply(kubectl, _pool("hz", labels={"region": "hangzhou", "tier": "edge"}, annotations={"owner": "ops"},
                         taints=[taint]))
    user_taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    node = node_object("hz-node-1", labels={"team": "blue"})
    node["spec"]["taints"] = [user_taint]
    apply(kubectl, node)

    kubectl("label", "node", "hz-node-1", "apps.openyurt.io/nodepool=hz")
    joined = wait_for(lambda: (n := get_json(kubectl, "node", "hz-node-1"))["metadata"]["labels"].get("region")
                      and n, "the pool's labels on the new member")
    assert joined["metadata"]["labels"]["tier"] == "edge" and joined["metadata"]["labels"]["team"] == "blue"
    assert joined["metadata"]["annotations"]["owner"] == "ops"
    assert taint in _taints(joined) and user_taint in _taints(joined)
    recorded = json.loads(joined["metadata"]["annotations"][PREVIOUS])
    assert recorded == {"labels": {"region": "hangzhou", "tier": "edge"}, "annotations": {"owner": "ops"},
                        "taints": [taint]}
    pool = wait_for(lambda: (p := get_json(kubectl, "np", "hz")).get("status", {}).get("nodes") and p,
                    "the pool's status listing its node")
    assert pool["status"] == {"readyNodeNum": 1, "unreadyNodeNum": 0, "nodes": ["hz-node-1"]}
    table = kubectl("get", "np", "hz").stdout.split()
    assert table[:5] == ["NAME", "TYPE", "READYNODES", "NOTREADYNODES", "AGE"] and table[5:9] == ["hz", "Edge",
                                                                                                  "1", "0"]

    # The pool changes: a dropped label leaves the node, a new one arrives; the user's label stays.
    kubectl("patch", "np", "hz", "--type=merge", "-p", json.dumps(
        {"spec": {"labels": {"region": "hangzhou", "tier": None, "zone": "a"}}}))
    changed = wait_for(lambda: (n := get_json(kubectl, "node", "hz-node-1"))["metadata"]["labels"].get("zone")
                       and n, "the pool's new label on its node")
    assert "tier" not in changed["metadata"]["labels"] and changed["metadata"]["labels"]["team"] == "blue"

    # The node leaves the pool: everything the pool put there goes, what the user set stays.
    kubectl("label", "node", "hz-node-1", "apps.openyurt.io/nodepool-")
    left = wait_for(lambda: "region" not in (n := get_json(kubectl, "node", "hz-node-1"))["metadata"]["labels"]
                    and n, "the pool's labels gone from the former member")
    assert left["metadata"]["labels"]["team"] == "blue" and "zone" not in left["metadata"]["labels"]
    assert PREVIOUS not in left["metadata"].get("annotations", {}) and "owner" not in left["metadata"]["annotations"]
    assert _taints(left) == [user_taint]
    emptied = wait_for(lambda: (p := get_json(kubectl, "np", "hz"))["status"].get("readyNodeNum") == 0 and p,
                       "the pool's status without its former node")
    assert "nodes" not in emptied["status"]


def test_pool_status_counts_ready_and_unready_members(kubectl: Kubectl) -> None:
    apply(kubectl, _pool("counted", type="Cloud"),
          node_object("counted-ready", labels={"apps.openyurt.io/nodepool": "counted"}),
          node_object("counted-down", labels={"apps.openyurt.io/nodepool": "counted"}, ready=False))
    status = wait_for(lambda: len(get_json(kubectl, "np", "counted").get("status", {}).get("nodes", [])) == 2
                      and get_json(kubectl, "np", "counted")["status"], "both nodes counted")
    assert status == {"readyNodeNum": 1, "unreadyNodeNum": 1, "nodes": ["counted-down", "counted-ready"]}


def test_deleting_a_pool_takes_its_attributes_off_its_nodes(kubectl: Kubectl) -> None:
    apply(kubectl, _pool("gone", labels={"site": "gone"}),
          node_object("gone-node", labels={"apps.openyurt.io/nodepool": "gone"}))
    wait_for(lambda: get_json(kubectl, "node", "gone-node")["metadata"]["labels"].get("site"), "the pool label")
    kubectl("delete", "np", "gone")
    wait_for(lambda: "site" not in get_json(kubectl, "node", "gone-node")["metadata"]["labels"],
             "the label of a deleted pool removed")


def test_bad_pools_are_rejected_with_the_field_named(kubectl: Kubectl) -> None:
    fog = kubectl("apply", "-f", "-", input=json.dumps(_pool("fog", type="Fog")), check=False)
    assert fog.returncode != 0 and 'spec.type: Unsupported value: "Fog"' in fog.stderr
    cloud_hostnet = kubectl("apply", "-f", "-", input=json.dumps(_pool("c", type="Cloud", hostNetwork=True)),
                            check=False)
    assert cloud_hostnet.returncode != 0 and "spec.hostNetwork" in cloud_hostnet.stderr
    bad_taint = kubectl("apply", "-f", "-", check=False, input=json.dumps(
        _pool("t", taints=[{"key": "k", "effect": "Sometimes"}])))
    assert bad_taint.returncode != 0 and "spec.taints[0].effect" in bad_taint.stderr
    apply(kubectl, _pool("fixed"))
    immutable = kubectl("patch", "np", "fixed", "--type=merge", "-p", '{"spec":{"type":"Cloud"}}', check=False)
    assert immutable.returncode != 0 and "spec.type: Invalid value" in immutable.stderr
    assert "field is immutable" in immutable.stderr
