"""Node lifecycle inside a real `edgeplane cloud` (grace period shortened to 2 s): nodes whose Lease renewals
stop become unreachable; ordinary nodes lose their pods after the pods' tolerations, autonomous edge nodes
keep them; when renewals resume the node is Ready again and its pods are untouched."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.controllers.scheduling.cluster import UNREACHABLE, Cluster, Obj, condition, eventually
from tests.integration.controllers.scheduling.conftest import Kubectl

GRACE = 2.0


@pytest.fixture(scope="module")
def grace_period() -> str:
    return f"{GRACE:g}s"


def tolerate_unreachable(seconds: int) -> list[Obj]:
    return [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}]


def gone_taints(node: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []
            if t["key"].startswith("node.kubernetes.io/")}


async def unreachable(cluster: Cluster, name: str) -> Obj:
    async def check() -> Obj | None:
        node = await cluster.node(name)
        return node if gone_taints(node) == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} else None
    node = await eventually(check, GRACE + 5, f"node {name} to be tainted unreachable")
    ready = condition(node, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    return node


async def ready_again(cluster: Cluster, name: str) -> Obj:
    async def check() -> Obj | None:
        node = await cluster.node(name)
        return node if condition(node, "Ready")["status"] == "True" and not gone_taints(node) else None
    return await eventually(check, 5, f"node {name} to be Ready without taints")


async def running_pod(cluster: Cluster, name: str, node: str, **spec: object) -> Obj:
    await cluster.create_pod(name, nodeName=node, **spec)
    return await cluster.set_pod_ready(name)


async def test_an_ordinary_node_that_goes_silent_loses_its_pods_after_their_toleration(
        cluster: Cluster, kubectl: Kubectl) -> None:
    node = await cluster.add_node("ordinary", lease=True)
    owner = await cluster.owner("app")
    await cluster.create_pod("short", owner, tolerations=tolerate_unreachable(2))
    await cluster.create_pod("patient", owner)  # gets the default 300 s tolerations
    for name in ("short", "patient"):
        assert await cluster.bound_node(name) == node
        await cluster.set_pod_ready(name)
    defaults = {(t["key"], t.get("tolerationSeconds")) for t in (await cluster.pod("patient"))["spec"]["tolerations"]}
    assert defaults == {("node.kubernetes.io/not-ready", 300), (UNREACHABLE, 300)}
    await asyncio.sleep(GRACE + 0.5)  # renewals keep it Ready past the grace period
    assert condition(await cluster.node(node), "Ready")["status"] == "True"

    cluster.stop_renewing(node)
    await unreachable(cluster, node)
    tainted_at = time.monotonic()

    async def not_ready(name: str) -> bool:
        return condition(await cluster.pod(name), "Ready")["status"] == "False"
    for name in ("short", "patient"):
        await eventually(lambda n=name: not_ready(n), 5, f"pod {name} marked NotReady")

    async def evicted() -> Obj | None:
        pod = await cluster.pod("short")
        return pod if pod["metadata"].get("deletionTimestamp") else None
    await eventually(evicted, 6, "pod short to be evicted")
    assert time.monotonic() - tainted_at >= 0.9  # not before its toleration (timeAdded has 1 s resolution)
    patient = await cluster.pod("patient")
    assert not patient["metadata"].get("deletionTimestamp")
    describe = (await asyncio.to_thread(kubectl, "describe", "pod", "short", "-n", cluster.namespace)).stdout
    assert "TaintManagerEviction" in describe

    cluster.resume_renewing(node)
    await ready_again(cluster, node)
    assert (await cluster.pod("patient"))["metadata"]["uid"] == patient["metadata"]["uid"]


async def test_autonomous_nodes_keep_their_pods_while_silent_and_nothing_restarts(cluster: Cluster) -> None:
    autonomous = await cluster.add_node("auto", lease=True,
                                        annotations={"node.openyurt.io/autonomy-duration": "0"})
    legacy = await cluster.add_node("legacy", lease=True, annotations={"node.beta.openyurt.io/autonomy": "true"})
    before = {}
    for node, name in ((autonomous, "a"), (legacy, "b")):
        before[name] = await running_pod(cluster, name, node, tolerations=tolerate_unreachable(1))

    for node in (autonomous, legacy):
        cluster.stop_renewing(node)
    for node in (autonomous, legacy):
        await unreachable(cluster, node)
    await asyncio.sleep(3)  # well past the pods' 1 s toleration
    for name, pod in before.items():
        now = await cluster.pod(name)
        assert now["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"], name
        assert not now["metadata"].get("deletionTimestamp")

    for node in (autonomous, legacy):
        cluster.resume_renewing(node)
    for node in (autonomous, legacy):
        await ready_again(cluster, node)
    for name, pod in before.items():
        now = await cluster.pod(name)
        assert (now["metadata"]["uid"], now["metadata"]["resourceVersion"]) == (
            pod["metadata"]["uid"], pod["metadata"]["resourceVersion"])
        assert condition(now, "Ready")["status"] == "True"


async def test_pods_are_evicted_once_the_autonomy_duration_runs_out(cluster: Cluster) -> None:
    node = await cluster.add_node("brief", lease=True, annotations={"node.openyurt.io/autonomy-duration": "3s"})
    await running_pod(cluster, "p", node, tolerations=tolerate_unreachable(1))
    cluster.stop_renewing(node)
    await unreachable(cluster, node)
    await asyncio.sleep(1.2)  # past the toleration, within the autonomy duration
    pod = await cluster.pod("p")
    assert not pod["metadata"].get("deletionTimestamp")
    assert condition(pod, "Ready")["status"] == "True"

    async def evicted() -> Obj | None:
        pod = await cluster.pod("p")
        return pod if pod["metadata"].get("deletionTimestamp") else None
    pod = await eventually(evicted, 5, "eviction after the autonomy duration")
    assert condition(pod, "Ready")["status"] == "False"


async def test_a_node_back_before_the_toleration_keeps_its_pods(cluster: Cluster) -> None:
    node = await cluster.add_node("blip", lease=True)
    before = await running_pod(cluster, "steady", node, tolerations=tolerate_unreachable(30))
    cluster.stop_renewing(node)
    await unreachable(cluster, node)
    cluster.resume_renewing(node)
    await ready_again(cluster, node)
    after = await cluster.pod("steady")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert not after["metadata"].get("deletionTimestamp")


async def test_a_bad_autonomy_duration_is_reported_and_the_node_is_ordinary(
        cluster: Cluster, kubectl: Kubectl) -> None:
    node = await cluster.add_node("typo", lease=True, annotations={"node.openyurt.io/autonomy-duration": "forever"})
    await running_pod(cluster, "q", node, tolerations=tolerate_unreachable(0))
    cluster.stop_renewing(node)
    await unreachable(cluster, node)

    async def evicted() -> bool:
        return bool((await cluster.pod("q"))["metadata"].get("deletionTimestamp"))
    await eventually(evicted, 5, "eviction from a node whose autonomy annotation is invalid")
    events = (await asyncio.to_thread(kubectl, "get", "events", "-A", "--field-selector",
                                      f"involvedObject.name={node}")).stdout
    assert "InvalidAutonomyDuration" in events
    assert "metadata.annotations[node.openyurt.io/autonomy-duration]: invalid duration 'forever'" in events


async def test_a_no_execute_taint_evicts_the_pods_that_do_not_tolerate_it(
        cluster: Cluster, kubectl: Kubectl) -> None:
    node = await cluster.add_node("maintained", lease=True)
    await running_pod(cluster, "plain", node)
    await running_pod(cluster, "tolerant", node, tolerations=[
        {"key": "maintenance", "operator": "Exists", "effect": "NoExecute"}])
    await asyncio.to_thread(kubectl, "taint", "node", node, "maintenance=now:NoExecute")

    async def evicted() -> bool:
        return bool((await cluster.pod("plain"))["metadata"].get("deletionTimestamp"))
    await eventually(evicted, 5, "eviction by a NoExecute taint")
    tolerant = await cluster.pod("tolerant")
    assert not tolerant["metadata"].get("deletionTimestamp")
    assert condition(tolerant, "Ready")["status"] == "True"  # the node itself is fine
