"""The scheduler's placement rules, on its in-memory cache: filters, reasons, scores and accounting."""

from __future__ import annotations

from typing import Any

import pytest

from edgeplane.controllers.scheduler.cache import SchedulerCache, failure_message, feasible_nodes_to_find
from edgeplane.controllers.scheduler.constraints import ConstraintError, PodConstraints
from edgeplane.controllers.scheduler.resources import pod_usage


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
         taints: list | None = None, ready: str | None = "True", unschedulable: bool = False) -> dict[str, Any]:
    status: dict[str, Any] = {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable}, "status": status}


def pod(name: str = "p", cpu: str | None = None, memory: str | None = None, owner: str = "",
        **spec: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet", "name": owner}]
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}], **spec}}


def cache_with(*nodes: dict[str, Any]) -> SchedulerCache:
    cache = SchedulerCache()
    for n in nodes:
        cache.set_node(n)
    return cache


def place(cache: SchedulerCache, p: dict[str, Any]) -> str | None:
    usage = pod_usage(p)
    decision = cache.choose(p["spec"], usage)
    if decision.node:
        cache.assume(p["metadata"]["name"], decision.node, usage)
    return decision.node


def message(cache: SchedulerCache, p: dict[str, Any]) -> str:
    decision = cache.choose(p["spec"], pod_usage(p))
    assert decision.node is None, decision
    return decision.message


def test_replicas_of_one_owner_spread_before_any_node_gets_a_second() -> None:
    cache = cache_with(node("a", cpu="8"), node("b"), node("c"))
    placed = [place(cache, pod(f"r{i}", cpu="100m", owner="rs-1")) for i in range(6)]
    assert sorted(placed[:3]) == ["a", "b", "c"]
    assert sorted(placed[3:]) == ["a", "b", "c"]


def test_least_allocated_node_wins_for_pods_without_owner() -> None:
    cache = cache_with(node("big", cpu="16", memory="32Gi"), node("small", cpu="2", memory="4Gi"))
    assert place(cache, pod("x", cpu="1", memory="1Gi")) == "big"


def test_kubernetes_failure_message_counts_and_sorts_reasons() -> None:
    cache = cache_with(node("a", cpu="1", labels={"zone": "x"}), node("b", labels={"zone": "y"}),
                       node("c", labels={"zone": "y"}))
    assert message(cache, pod(cpu="2", nodeSelector={"zone": "x"})) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.")


def test_requests_of_bound_pods_count_and_removal_frees_room() -> None:
    cache = cache_with(node("a", cpu="1", memory="1Gi", pods="2"))
    cache.add_pod("default/bound", "a", pod_usage(pod(cpu="600m", memory="512Mi")))
    assert message(cache, pod(cpu="500m")) == "0/1 nodes are available: 1 Insufficient cpu."
    assert message(cache, pod(cpu="500m", memory="600Mi")) == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.")
    cache.add_pod("default/other", "a", pod_usage(pod()))
    assert message(cache, pod()) == "0/1 nodes are available: 1 Too many pods."
    assert cache.remove_pod("default/bound")
    assert place(cache, pod("n", cpu="500m")) == "a"
    assert message(cache, pod()) == "0/1 nodes are available: 1 Too many pods."


def test_pods_bound_before_their_node_is_known_are_counted_when_it_arrives() -> None:
    cache = SchedulerCache()
    cache.add_pod("default/early", "a", pod_usage(pod(cpu="900m")))
    cache.set_node(node("a", cpu="1"))
    assert message(cache, pod(cpu="200m")) == "0/1 nodes are available: 1 Insufficient cpu."


def test_taints_block_unless_tolerated_and_prefer_no_schedule_is_only_avoided() -> None:
    cache = cache_with(node("gpu", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
                       node("edge", taints=[{"key": "edge", "effect": "NoExecute"}]))
    assert message(cache, pod()) == ("0/2 nodes are available: 1 node(s) had untolerated taint {edge: }, "
                                     "1 node(s) had untolerated taint {gpu: yes}.")
    assert place(cache, pod("t", tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes"}])) == "gpu"
    assert place(cache, pod("u", tolerations=[{"operator": "Exists"}])) in ("gpu", "edge")
    assert message(cache, pod(tolerations=[{"key": "gpu", "operator": "Equal", "value": "no"}])).startswith("0/2")

    soft = cache_with(node("preferred-not", cpu="64", taints=[{"key": "x", "effect": "PreferNoSchedule"}]),
                      node("plain", cpu="1", pods="1"))
    assert place(soft, pod("first")) == "plain"  # although the tainted node is far less loaded
    assert place(soft, pod("second")) == "preferred-not"  # plain is full: the soft taint yields


def test_unschedulable_and_not_ready_nodes() -> None:
    cache = cache_with(node("cordoned", unschedulable=True), node("down", ready="False"),
                       node("unknown", ready=None))
    assert message(cache, pod()) == (
        "0/3 nodes are available: 1 node(s) were unschedulable, "
        "2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.")
    tolerant = pod("t", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                      "effect": "NoSchedule"}])
    assert place(cache, tolerant) == "cordoned"
    assert cache.set_node(node("down", ready="True"))  # the change lets waiting pods be retried
    assert place(cache, pod("later")) == "down"


def test_node_updates_that_change_nothing_relevant_do_not_retry_waiting_pods() -> None:
    cache = cache_with(node("a"))
    updated = node("a")
    updated["status"]["conditions"][0]["lastHeartbeatTime"] = "2030-01-01T00:00:00Z"
    assert not cache.set_node(updated)


@pytest.mark.parametrize(("expression", "expected"), [
    ({"key": "zone", "operator": "In", "values": ["b", "c"]}, {"b", "c"}),
    ({"key": "zone", "operator": "NotIn", "values": ["a", "b"]}, {"c", "bare"}),
    ({"key": "gpu", "operator": "Exists"}, {"b"}),
    ({"key": "gpu", "operator": "DoesNotExist"}, {"a", "c", "bare"}),
    ({"key": "gen", "operator": "Gt", "values": ["3"]}, {"b"}),
    ({"key": "gen", "operator": "Lt", "values": ["4"]}, {"a"}),
])
def test_required_node_affinity_operators(expression: dict, expected: set[str]) -> None:
    cache = cache_with(node("a", labels={"zone": "a", "gen": "3"}),
                       node("b", labels={"zone": "b", "gen": "5", "gpu": "true"}),
                       node("c", labels={"zone": "c", "gen": "x"}), node("bare"))
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [expression]}]}}}
    chosen = {place(cache, pod(f"p{i}", affinity=affinity)) for i in range(8)}
    assert chosen == expected


def test_match_fields_and_ored_terms() -> None:
    cache = cache_with(node("a", labels={"zone": "a"}), node("b", labels={"zone": "b"}), node("c"))
    terms = [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["nowhere"]}]},
             {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    assert {place(cache, pod(f"p{i}", affinity=affinity)) for i in range(3)} == {"c"}


@pytest.mark.parametrize(("term", "error"), [
    ({"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]},
     'nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: "Near"'),
    ({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["high"]}]},
     'nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: "high": must be an integer'),
    ({"matchExpressions": [{"key": "zone", "operator": "In"}]},
     "nodeSelectorTerms[0].matchExpressions[0].values: Required value"),
    ({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["a"]}]},
     'nodeSelectorTerms[0].matchFields[0].key: Unsupported value: "metadata.labels"'),
])
def test_bad_affinity_names_the_field(term: dict, error: str) -> None:
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}}
    with pytest.raises(ConstraintError) as exc:
        PodConstraints(spec)
    assert str(exc.value).startswith("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.")
    assert error in str(exc.value)


def test_pod_requests_follow_kube_scheduler_arithmetic() -> None:
    p = {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                       {"name": "b", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "1"}}}],
        "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "2"}}}],
        "overhead": {"memory": "10Mi"}}}
    usage = pod_usage(p)
    assert usage.cpu == 2000  # the init container's 2 CPUs beat the containers' 1.25
    assert usage.memory == (64 + 10) * 1024 * 1024
    assert usage.other == (("nvidia.com/gpu", 1),)
    assert pod_usage(pod()).requests_nothing and pod_usage(pod()).nonzero_cpu == 100


def test_extended_resources_must_be_offered() -> None:
    cache = cache_with(node("plain"))
    gpu_pod = {"metadata": {"name": "g"}, "spec": {"containers": [
        {"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    assert message(cache, gpu_pod) == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."


def test_no_nodes_and_sampling_sizes() -> None:
    assert SchedulerCache().choose({}, pod_usage(pod())).message == "no nodes available to schedule pods"
    assert [feasible_nodes_to_find(n) for n in (3, 99, 100, 1000, 5000, 100_000)] == [3, 99, 100, 420, 500, 5000]
    assert failure_message(2, {"b": 1, "a": 1}) == "0/2 nodes are available: 1 a, 1 b."  # type: ignore[arg-type]


def test_large_cluster_still_spreads_one_owner_evenly() -> None:
    cache = cache_with(*(node(f"n{i:03d}", cpu="16", memory="32Gi") for i in range(300)))
    for i in range(900):
        assert place(cache, pod(f"p{i}", cpu="100m", memory="128Mi", owner=f"o{i % 3}"))
    per_owner = [count for info in cache.nodes.values() for count in info.owners.values()]
    assert max(per_owner) == 1 and len(per_owner) == 900
