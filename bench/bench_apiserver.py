"""API server benchmarks against a real `edgeplane cloud` process over HTTPS.

  1. create N ConfigMaps with 8 concurrent clients: writes/s, p50/p99 latency (goal >= 2,000 writes/s);
  2. list N pods as JSON and as Table (goal < 1 s each);
  3. W concurrent watchers of one namespace while writes go in at R/s: every watcher gets every event,
     p99 delivery latency (goal < 100 ms with 1,000 watchers at 500 writes/s).

Usage: python bench/bench_apiserver.py [--objects 10000] [--watchers 1000] [--rate 500] [--seconds 10]
The server runs in its own process; the load generator in this one (the machine has 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.apiserver.http import admin_session, configmap
from tests.integration.cloudproc import Cloud


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def bench_creates(cloud: Cloud, n: int, clients: int) -> None:
    async with admin_session(cloud.kubeconfig, limit=clients) as (session, server):
        base = f"{server}/api/v1/namespaces/default/configmaps"
        latencies: list[float] = []
        counter = iter(range(n))

        async def client() -> None:
            for i in counter:
                body = orjson.dumps(configmap(f"cm-{i}", key="value", index=str(i)))
                t0 = time.perf_counter()
                async with session.post(base, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()
                    assert resp.status == 201, resp.status
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    print(f"create {n} ConfigMaps, {clients} clients over HTTPS: {n / elapsed:,.0f} writes/s, "
          f"p50 {pct(latencies, 0.5) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms")


def pod(i: int, namespace: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": namespace, "labels": {"app": "bench", "shard": str(i % 10)}},
        "spec": {"nodeName": f"node-{i % 100}", "containers": [
            {"name": "main", "image": "registry.local/app:1.0", "command": ["/app", "--port=8080"],
             "ports": [{"containerPort": 8080}], "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }


async def bench_lists(cloud: Cloud, n: int) -> None:
    async with admin_session(cloud.kubeconfig, limit=16) as (session, server):
        async with session.post(f"{server}/api/v1/namespaces",
                                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "listing"}}) as r:
            assert r.status == 201
        base = f"{server}/api/v1/namespaces/listing/pods"
        counter = iter(range(n))

        async def client() -> None:
            for i in counter:
                async with session.post(base, data=orjson.dumps(pod(i, "listing")),
                                        headers={"Content-Type": "application/json"}) as resp:
                    assert resp.status == 201, await resp.text()

        await asyncio.gather(*(client() for _ in range(16)))
        for label, headers in (
            ("JSON", {"Accept": "application/json"}),
            ("Table", {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}),
        ):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                async with session.get(base, headers=headers) as resp:
                    body = await resp.read()
                times.append(time.perf_counter() - t0)
            doc = orjson.loads(body)
            count = len(doc.get("items") or doc.get("rows"))
            assert count == n, count
            print(f"list {n} pods as {label}: best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
                  f"({len(body) / 1e6:.1f} MB)")


async def bench_watchers(cloud: Cloud, watchers: int, rate: int, seconds: float) -> None:
    async with admin_session(cloud.kubeconfig, limit=watchers + 16) as (session, server):
        async with session.post(f"{server}/api/v1/namespaces",
                                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watched"}}) as r:
            assert r.status == 201
        base = f"{server}/api/v1/namespaces/watched/configmaps"
        async with session.get(base) as resp:
            start_rv = (await resp.json())["metadata"]["resourceVersion"]
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        counts = [0] * watchers
        total = int(rate * seconds)
        ready = 0
        all_ready = asyncio.Event()

        async def watch(idx: int) -> None:
            nonlocal ready
            async with session.get(f"{base}?watch=1&resourceVersion={start_rv}", timeout=None) as resp:
                ready += 1
                if ready == watchers:
                    all_ready.set()
                buf = b""
                async for chunk in resp.content.iter_any():
                    now = time.perf_counter()
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    counts[idx] += len(lines)
                    if idx % 10 == 0:  # a tenth of the watchers measure latency; all of them count
                        for line in lines:
                            name = orjson.loads(line)["object"]["metadata"]["name"]
                            latencies.append(now - sent_at[name])
                    if counts[idx] >= total:
                        return

        tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
        await asyncio.wait_for(all_ready.wait(), 120)
        writer_clients = 8
        interval = writer_clients / rate
        counter = iter(range(total))

        async def writer(offset: int) -> None:
            next_at = time.perf_counter() + offset * interval / writer_clients
            for i in counter:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
                name = f"w-{i}"
                sent_at[name] = time.perf_counter()
                async with session.post(base, data=orjson.dumps(configmap(name, "watched", v=str(i))),
                                        headers={"Content-Type": "application/json"}) as resp:
                    assert resp.status == 201

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(k) for k in range(writer_clients)))
        write_time = time.perf_counter() - t0
        _, pending = await asyncio.wait(tasks, timeout=60)
        for t in pending:
            t.cancel()
        complete = sum(1 for c in counts if c >= total)
    print(f"{watchers} watchers, {total} writes at {total / write_time:,.0f} writes/s: "
          f"{complete}/{watchers} watchers got every event; delivery latency p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {pct(latencies, 0.99) * 1000:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", choices=["creates", "lists", "watchers"])
    args = parser.parse_args()
    print(f"# edgeplane API server benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        cloud = Cloud(Path(tmp) / "data").start()
        try:
            if args.only in (None, "creates"):
                await bench_creates(cloud, args.objects, args.clients)
            if args.only in (None, "lists"):
                await bench_lists(cloud, args.objects)
            if args.only in (None, "watchers"):
                await bench_watchers(cloud, args.watchers, args.rate, args.seconds)
        finally:
            cloud.stop()


if __name__ == "__main__":
    asyncio.run(main())
