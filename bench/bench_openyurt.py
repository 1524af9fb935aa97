"""OpenYurt controllers: per-object cost of their pure work, and end-to-end convergence in `edgeplane cloud`.

Prints microseconds per NodePool attribute conciliation and per YurtAppSet Deployment rendering, then starts a
real cloud process and measures how long it takes (a) for 200 nodes labelled into a pool to carry the pool's
labels and taints, and (b) for a YurtAppSet selecting 50 pools by label to have its 50 Deployments.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeplane.client.rest import RESTClient
from edgeplane.controllers.nodepool import conciliate_node
from edgeplane.controllers.yurtappset import render_deployment, revision_of
from tests.integration.cloudproc import Cloud
from tests.integration.controllers.openyurt.cluster import node_object

POOL = {"metadata": {"name": "hangzhou"},
        "spec": {"labels": {"region": "hangzhou", "tier": "edge"}, "annotations": {"owner": "ops"},
                 "taints": [{"key": "edge", "value": "hangzhou", "effect": "NoSchedule"}]}}
YAS = {"metadata": {"name": "web", "namespace": "default", "uid": "u"}, "spec": {"workload": {
    "workloadTemplate": {"deploymentTemplate": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}},
    "workloadTweaks": [{"pools": ["hangzhou"], "tweaks": {
        "replicas": 3, "containerImages": [{"name": "web", "targetImage": "nginx:1.26"}],
        "patches": [{"operation": "add", "path": "/metadata/labels/pool", "value": "{{nodepool-name}}"}]}}]}}}


def per_op(label: str, fn: Callable[[], Any], n: int = 20_000) -> None:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    print(f"{label:<52} {(time.perf_counter() - start) / n * 1e6:8.1f} µs/op")


async def converge(client: RESTClient, what: str, check: Callable[[], Any], start: float) -> None:
    while not await check():
        await asyncio.sleep(0.02)
    print(f"{what:<52} {time.perf_counter() - start:8.2f} s")


async def end_to_end(cloud: Cloud) -> None:
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as client:
        await client.create("apps.openyurt.io/v1beta2", "nodepools",
                            {"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool", **POOL})
        start = time.perf_counter()
        await asyncio.gather(*(client.create("v1", "nodes", node_object(
            f"edge-{i}", labels={"apps.openyurt.io/nodepool": "hangzhou"})) for i in range(200)))

        async def nodes_done() -> bool:
            items = (await client.list("v1", "nodes", label_selector="region=hangzhou"))["items"]
            return len(items) == 200
        await converge(client, "200 nodes created into a pool carry its labels", nodes_done, start)

        pools = [{"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool",
                  "metadata": {"name": f"site-{i}", "labels": {"app": "web"}}, "spec": {"type": "Edge"}}
                 for i in range(50)]
        await asyncio.gather(*(client.create("apps.openyurt.io/v1beta2", "nodepools", p) for p in pools))
        start = time.perf_counter()
        yas = {"apiVersion": "apps.openyurt.io/v1beta1", "kind": "YurtAppSet", **YAS}
        yas["metadata"] = {"name": "web", "namespace": "default"}
        yas["spec"] = {**YAS["spec"], "nodepoolSelector": {"matchLabels": {"app": "web"}}}
        await client.create("apps.openyurt.io/v1beta1", "yurtappsets", yas, "default")

        async def deployments_done() -> bool:
            listed = await client.list("apps/v1", "deployments", "default",
                                       label_selector="apps.openyurt.io/yurtappset-owner=web")
            return len(listed["items"]) == 50
        await converge(client, "YurtAppSet over 50 pools has its 50 Deployments", deployments_done, start)


def main() -> None:
    node = node_object("edge-1", labels={"apps.openyurt.io/nodepool": "hangzhou"})
    joined = conciliate_node(node, POOL)
    per_op("NodePool: conciliate a joining node", lambda: conciliate_node(node, POOL))
    per_op("NodePool: check a node already in order", lambda: conciliate_node(joined, POOL))
    revision = revision_of(YAS)
    per_op("YurtAppSet: render one pool's Deployment (with tweaks)", lambda: render_deployment(YAS, POOL, revision),
           n=5_000)
    with tempfile.TemporaryDirectory() as tmp:
        cloud = Cloud(Path(tmp) / "data").start()
        try:
            asyncio.run(end_to_end(cloud))
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
