"""The scheduler inside a real `edgeplane cloud`: pods created through the API get bound to nodes that fit."""

from __future__ import annotations

import asyncio

from tests.integration.controllers.scheduling.cluster import Cluster, condition, eventually
from tests.integration.controllers.scheduling.conftest import Kubectl


async def failed_scheduling(kubectl: Kubectl, cluster: Cluster, pod: str, expected: str) -> str:
    """Waits until `kubectl describe pod` shows a FailedScheduling event with the expected message."""
    async def check() -> str | None:
        out = (await asyncio.to_thread(kubectl, "describe", "pod", pod, "-n", cluster.namespace)).stdout
        return out if "FailedScheduling" in out and expected in out else None
    return await eventually(check, 10, f"FailedScheduling {expected!r} on {pod}")


async def test_replicas_spread_over_the_nodes_that_fit(cluster: Cluster) -> None:
    fitting = [await cluster.add_node(f"edge-{i}", labels={"zone": "edge"}) for i in range(3)]
    await cluster.add_node("cloud", labels={"zone": "cloud"}, cpu="64")  # emptier, but not selected
    owner = await cluster.owner("web")
    for i in range(3):
        await cluster.create_pod(f"web-{i}", owner, cpu="100m", nodeSelector={"zone": "edge"})
    placed = [await cluster.bound_node(f"web-{i}") for i in range(3)]
    assert sorted(placed) == sorted(fitting)
    pod = await cluster.pod("web-0")
    assert condition(pod, "PodScheduled")["status"] == "True"


async def test_a_pod_that_fits_nowhere_says_why_and_is_bound_once_a_node_fits(
        cluster: Cluster, kubectl: Kubectl) -> None:
    await cluster.add_node("small", cpu="1", labels={"zone": "edge"})
    await cluster.add_node("other-1", labels={"zone": "cloud"})
    await cluster.add_node("other-2", labels={"zone": "cloud"})
    await cluster.create_pod("big", cpu="2", nodeSelector={"zone": "edge"})
    await failed_scheduling(kubectl, cluster, "big", "0/3 nodes are available: 1 Insufficient cpu, "
                                                     "2 node(s) didn't match Pod's node affinity/selector.")
    pod = await cluster.pod("big")
    assert not pod["spec"].get("nodeName")
    assert condition(pod, "PodScheduled")["reason"] == "Unschedulable"
    roomy = await cluster.add_node("roomy", cpu="4", labels={"zone": "edge"})
    assert await cluster.bound_node("big") == roomy


async def test_taints_and_tolerations_decide(cluster: Cluster, kubectl: Kubectl) -> None:
    gpu = await cluster.add_node("gpu", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    await cluster.add_node("drain", taints=[{"key": "maintenance", "effect": "NoExecute"}])
    await cluster.create_pod("plain")
    await failed_scheduling(kubectl, cluster, "plain", "0/2 nodes are available: "
                            "1 node(s) had untolerated taint {gpu: yes}, "
                            "1 node(s) had untolerated taint {maintenance: }.")
    await cluster.create_pod("trainer", tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes",
                                                      "effect": "NoSchedule"}])
    assert await cluster.bound_node("trainer") == gpu
    # PreferNoSchedule is a preference: avoided while another node fits, used when none does.
    soft = await cluster.add_node("soft", cpu="32", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])
    tight = await cluster.add_node("tight", cpu="1", pods="2")
    assert await cluster.bound_node("plain") in (soft, tight)  # the waiting pod is retried on node changes
    for name in ("a", "b"):
        await cluster.create_pod(name)
    placed = {await cluster.bound_node(n) for n in ("plain", "a", "b")}
    assert placed == {soft, tight}
    assert [await cluster.bound_node(n) for n in ("plain", "a", "b")].count(tight) == 2


async def test_required_node_affinity_and_match_fields_decide(cluster: Cluster, kubectl: Kubectl) -> None:
    old = await cluster.add_node("old", labels={"generation": "3", "zone": "a"})
    new = await cluster.add_node("new", labels={"generation": "5", "zone": "b", "gpu": "true"})
    plain = await cluster.add_node("plain", labels={"zone": "c"})

    def affinity(*terms: dict) -> dict:
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}

    cases = {
        "gt": (affinity({"matchExpressions": [{"key": "generation", "operator": "Gt", "values": ["4"]}]}), new),
        "lt": (affinity({"matchExpressions": [{"key": "generation", "operator": "Lt", "values": ["4"]}]}), old),
        "notin-nogpu": (affinity({"matchExpressions": [
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "gpu", "operator": "DoesNotExist"}]}), plain),
        "in-exists": (affinity({"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a", "b"]},
            {"key": "gpu", "operator": "Exists"}]}), new),
        "fields-or": (affinity({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["none"]}]},
                               {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [old]}]}), old),
    }
    for name, (aff, _) in cases.items():
        await cluster.create_pod(name, affinity=aff)
    assert {name: await cluster.bound_node(name) for name in cases} == {n: want for n, (_, want) in cases.items()}

    await cluster.create_pod("nowhere", affinity=affinity(
        {"matchExpressions": [{"key": "generation", "operator": "Gt", "values": ["9"]}]}))
    await failed_scheduling(kubectl, cluster, "nowhere",
                            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    await cluster.create_pod("bad", affinity=affinity(
        {"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}))
    await failed_scheduling(kubectl, cluster, "bad", "nodeSelectorTerms[0].matchExpressions[0].operator: "
                                                     'Unsupported value: "Near"')


async def test_requests_count_against_allocatable_with_bound_pods(cluster: Cluster, kubectl: Kubectl) -> None:
    node = await cluster.add_node("only", cpu="1", memory="1Gi", pods="3")
    await cluster.create_pod("running", cpu="600m", memory="256Mi", nodeName=node)  # bound at creation
    await cluster.create_pod("half", cpu="500m")
    await failed_scheduling(kubectl, cluster, "half", "0/1 nodes are available: 1 Insufficient cpu.")
    await cluster.create_pod("hungry", memory="1Gi")
    await failed_scheduling(kubectl, cluster, "hungry", "0/1 nodes are available: 1 Insufficient memory.")
    await cluster.create_pod("small", cpu="300m", memory="256Mi")
    assert await cluster.bound_node("small") == node
    await cluster.create_pod("third")
    assert await cluster.bound_node("third") == node
    await cluster.create_pod("fourth")
    await failed_scheduling(kubectl, cluster, "fourth", "0/1 nodes are available: 1 Too many pods.")
    await cluster.api.delete("v1", "pods", "fourth", cluster.namespace)  # it would compete for the freed slot
    # Deleting the bound pod frees its requests: the waiting pods are retried.
    await cluster.api.delete("v1", "pods", "running", cluster.namespace, grace_period_seconds=0)
    assert await cluster.bound_node("half") == node
    assert not (await cluster.pod("hungry"))["spec"].get("nodeName")


async def test_cordoned_and_not_ready_nodes_take_no_pods(cluster: Cluster, kubectl: Kubectl) -> None:
    cordoned = await cluster.add_node("cordoned")
    await cluster.add_node("down", ready="False")
    await asyncio.to_thread(kubectl, "cordon", cordoned)
    await cluster.create_pod("waiting")
    await failed_scheduling(kubectl, cluster, "waiting", "0/2 nodes are available: "
                            "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                            "1 node(s) were unschedulable.")
    await asyncio.to_thread(kubectl, "uncordon", cordoned)
    assert await cluster.bound_node("waiting") == cordoned


async def test_pods_for_another_scheduler_or_with_a_node_are_left_alone(cluster: Cluster) -> None:
    node = await cluster.add_node("n")
    await cluster.add_node("m")
    await cluster.create_pod("custom", schedulerName="my-scheduler")
    await cluster.create_pod("pinned", nodeName=node)
    await cluster.create_pod("normal")
    await cluster.bound_node("normal")
    assert (await cluster.pod("pinned"))["spec"]["nodeName"] == node
    custom = await cluster.pod("custom")
    assert not custom["spec"].get("nodeName") and not condition(custom, "PodScheduled")
