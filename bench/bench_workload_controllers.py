"""Workload controllers end to end: a real `edgeplane cloud`, simulated nodes and kubelet, and timings of
what users wait for: a Deployment of N replicas becoming available, a rolling update of it, deleting it
(garbage collection of its ReplicaSets and pods), a DaemonSet covering every node, and a namespace delete.

    python bench/bench_workload_controllers.py [--replicas 200] [--nodes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeplane.client.rest import RESTClient
from tests.integration.cloudproc import Cloud
from tests.integration.controllers.workloads.kubelet import FakeKubelet


def deployment(replicas: int, image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench", "namespace": "bench"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 300) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if await check():
            return time.perf_counter() - start
        await asyncio.sleep(0.05)
    raise TimeoutError("the cluster did not get there in time")


async def run(cloud: Cloud, replicas: int, nodes: int) -> None:
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as c:
        await c.create("v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})

        async def deployment_done(image: str) -> bool:
            d = await c.get("apps/v1", "deployments", "bench", "bench")
            s = d.get("status") or {}
            return (s.get("observedGeneration", 0) >= d["metadata"]["generation"]
                    and s.get("updatedReplicas") == replicas == s.get("availableReplicas") == s.get("replicas")
                    and d["spec"]["template"]["spec"]["containers"][0]["image"] == image)

        async def pod_count() -> int:
            return len((await c.list("v1", "pods", "bench"))["items"])

        await c.create("apps/v1", "deployments", deployment(replicas, "nginx:1"), "bench")
        created = await until(lambda: deployment_done("nginx:1"))
        ready = [p for p in (await c.list("v1", "pods", "bench"))["items"]
                 if any(x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions", []))]
        assert len(ready) == replicas, f"{len(ready)} ready pods, expected {replicas}"
        print(f"deployment of {replicas} replicas on {nodes} nodes available: {created:.2f} s "
              f"({replicas / created:.0f} pods/s: created, scheduled, reported ready)")

        await c.patch("apps/v1", "deployments", "bench",
                      {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}},
                      "bench", patch_type="strategic")
        rolled = await until(lambda: deployment_done("nginx:2"))
        print(f"rolling update (25% surge, 25% unavailable): {rolled:.2f} s")

        await c.delete("apps/v1", "deployments", "bench", "bench")

        async def all_gone() -> bool:
            return await pod_count() == 0 and not (await c.list("apps/v1", "replicasets", "bench"))["items"]

        collected = await until(all_gone)
        print(f"deployment deleted, ReplicaSets and {replicas} pods garbage collected: {collected:.2f} s")

        await c.create("apps/v1", "daemonsets", {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "bench"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "main", "image": "agent:1"}]}}}}, "bench")

        async def daemons_ready() -> bool:
            s = (await c.get("apps/v1", "daemonsets", "agent", "bench")).get("status") or {}
            return s.get("numberAvailable") == nodes == s.get("desiredNumberScheduled")

        covered = await until(daemons_ready)
        print(f"daemonset on {nodes} nodes available: {covered:.2f} s")

        await c.create("apps/v1", "deployments", deployment(replicas, "nginx:1"), "bench")
        await until(lambda: deployment_done("nginx:1"))
        await c.delete("v1", "namespaces", "bench")

        async def namespace_gone() -> bool:
            try:
                await c.get("v1", "namespaces", "bench")
            except Exception:
                return True
            return False

        emptied = await until(namespace_gone)
        print(f"namespace with {replicas + nodes} pods deleted and finalized: {emptied:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = Cloud(Path(tmp) / "data").start()
        kubelet = FakeKubelet(cloud.kubeconfig, ready_delay=0.0)
        try:
            for i in range(args.nodes):
                kubelet.add_node(f"node-{i}")
            asyncio.run(run(cloud, args.replicas, args.nodes))
        finally:
            kubelet.close()
            cloud.stop()


if __name__ == "__main__":
    main()
