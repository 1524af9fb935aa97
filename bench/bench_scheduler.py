"""Scheduler benchmark against a real `edgeplane cloud` process over HTTPS.

N simulated Ready nodes; P pods (each requesting CPU and memory, owned by one of a few owners) created as
fast as C concurrent clients can (then P/2 more at a steady R per second); a watch on the pods sees each
one get its nodeName. Prints, for each run:

  - pods bound per second (all pods / time from the first create sent to the last binding seen),
  - creation-to-binding latency p50/p99: from the moment the create request was sent to the watch event
    showing nodeName (creationTimestamp has one-second resolution, so the send time stands in for it;
    it is the earlier of the two, so the figure errs on the long side),
  - how evenly each owner's pods spread over the nodes (goal >= 500 pods bound/s over 1,000 nodes).

Usage: python bench/bench_scheduler.py [--nodes 1000] [--pods 10000] [--clients 16] [--owners 10] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.apiserver.http import admin_session
from tests.integration.cloudproc import Cloud

NAMESPACE = "bench"
JSON = {"Content-Type": "application/json"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to show where the machine's time went."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def node(i: int) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"node-{i:04d}", "labels": {"zone": f"zone-{i % 4}"}},
            "status": {"allocatable": {"cpu": "16", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "16", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "simulated", "lastHeartbeatTime": now,
                                       "lastTransitionTime": now}]}}


def pod(name: str, owner: dict) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": owner["name"]},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["name"],
                                          "uid": owner["uid"], "controller": True}]},
        "spec": {"containers": [{"name": "main", "image": "registry.local/app:1.0",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    })


async def post_all(session: aiohttp.ClientSession, url: str, bodies: list[bytes], clients: int,
                   sent_at: dict[int, float] | None = None, rate: float = 0) -> None:
    """POSTs every body with `clients` concurrent connections, as fast as possible or at `rate` per second."""
    counter = iter(range(len(bodies)))
    t0 = time.perf_counter()

    async def client() -> None:
        for i in counter:
            if rate:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if sent_at is not None:
                sent_at[i] = time.perf_counter()
            async with session.post(url, data=bodies[i], headers=JSON) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"create failed ({resp.status}): {await resp.text()}")

    await asyncio.gather(*(client() for _ in range(clients)))


async def setup(session: aiohttp.ClientSession, server: str, nodes: int, owners: int, clients: int) -> list[dict]:
    t0 = time.perf_counter()
    await post_all(session, f"{server}/api/v1/nodes", [orjson.dumps(node(i)) for i in range(nodes)], clients)
    print(f"{nodes} nodes created in {time.perf_counter() - t0:.1f} s")
    async with session.post(f"{server}/api/v1/namespaces", json={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}) as r:
        assert r.status == 201, await r.text()
    owner_objs = []
    for k in range(owners):
        async with session.post(f"{server}/api/v1/namespaces/{NAMESPACE}/configmaps", json={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"owner-{k}"}}) as r:
            owner_objs.append((await r.json())["metadata"])
    return owner_objs


async def phase(cloud: Cloud, session: aiohttp.ClientSession, server: str, label: str, owner_objs: list[dict],
                pods: int, clients: int, rate: float) -> None:
    base = f"{server}/api/v1/namespaces/{NAMESPACE}/pods"
    async with session.get(f"{base}?limit=1") as resp:
        start_rv = (await resp.json())["metadata"]["resourceVersion"]
    bound_at: dict[int, float] = {}
    placement: dict[int, str] = {}
    all_bound = asyncio.Event()

    async def watch() -> None:
        async with session.get(f"{base}?watch=1&resourceVersion={start_rv}&labelSelector=phase%3D{label}",
                               timeout=aiohttp.ClientTimeout(total=None)) as resp:
            buf = b""
            async for chunk in resp.content.iter_any():
                now = time.perf_counter()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    obj = orjson.loads(line)["object"]
                    node_name = obj["spec"].get("nodeName")
                    index = int(obj["metadata"]["name"].rsplit("-", 1)[1])
                    if node_name and index not in bound_at:
                        bound_at[index] = now
                        placement[index] = node_name
                if len(bound_at) >= pods:
                    all_bound.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # let the watch get established
    owners = len(owner_objs)
    bodies = []
    for i in range(pods):
        body = orjson.loads(pod(f"{label}-{i:05d}", owner_objs[i % owners]))
        body["metadata"]["labels"]["phase"] = label
        bodies.append(orjson.dumps(body))
    sent_at: dict[int, float] = {}
    cpu0 = cpu_seconds(cloud.proc.pid)
    t0 = time.perf_counter()
    await post_all(session, base, bodies, clients, sent_at, rate)
    created = time.perf_counter() - t0
    try:
        await asyncio.wait_for(all_bound.wait(), 300)
    finally:
        watcher.cancel()
    elapsed = max(bound_at.values()) - t0
    cloud_cpu = cpu_seconds(cloud.proc.pid) - cpu0
    latencies = [bound_at[i] - sent_at[i] for i in range(pods)]
    per_node: dict[str, Counter[int]] = defaultdict(Counter)
    for i, node_name in placement.items():
        per_node[node_name][i % owners] += 1
    per_owner_node = [count for counts in per_node.values() for count in counts.values()]
    pace = f"paced at {rate:,.0f}/s" if rate else "as fast as possible"
    print(f"[{label}] {pods} pods created {pace} in {created:.1f} s ({pods / created:,.0f} creates/s, "
          f"{clients} clients)")
    print(f"[{label}] {pods} pods bound in {elapsed:.1f} s: {pods / elapsed:,.0f} pods bound/s")
    print(f"[{label}] creation-to-binding latency: p50 {pct(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {pct(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"[{label}] edgeplane cloud used {cloud_cpu:.1f} s of CPU ({cloud_cpu / pods * 1e3:.2f} ms per pod: "
          f"create, schedule, bind, events, watch)")
    print(f"[{label}] spread: {len(per_node)} nodes used; pods of one owner per node: min {min(per_owner_node)}, "
          f"max {max(per_owner_node)}")


async def run(cloud: Cloud, nodes: int, pods: int, clients: int, owners: int, rate: float) -> None:
    async with admin_session(cloud.kubeconfig, limit=clients + 4) as (session, server):
        owner_objs = await setup(session, server, nodes, owners, clients)
        await phase(cloud, session, server, "burst", owner_objs, pods, clients, 0)
        if rate:
            await phase(cloud, session, server, "paced", owner_objs, pods // 2, clients, rate)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--owners", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500,
                        help="creates/s of a second, paced run of pods/2 pods for latency at load (0: skip)")
    args = parser.parse_args()
    print(f"# edgeplane scheduler benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        # Simulated nodes renew no Lease: a long grace period keeps them Ready for the run.
        cloud = Cloud(Path(tmp) / "data").start("--node-monitor-grace-period", "1h")
        try:
            await run(cloud, args.nodes, args.pods, args.clients, args.owners, args.rate)
        finally:
            cloud.stop()


if __name__ == "__main__":
    asyncio.run(main())
