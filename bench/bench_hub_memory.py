"""Where the cloud's memory per connected edge node goes.

Runs the cloud (API server, store, controllers, hub: the same CloudProcess as `edgeplane cloud`) in this
process with tracemalloc on, connects N hollow edge nodes from child processes (bench_edge_hub.py's, over
real mutual-TLS WebSockets: they register, renew their Lease every 10 s and answer pings), lets them idle,
and prints the RSS growth per node and the Python allocations per node grouped by where they were made.
RSS also holds what tracemalloc cannot see: OpenSSL's per-connection state and malloc's overhead.

Run: .venv/bin/python bench/bench_hub_memory.py [--nodes 500] [--idle 20] [--top 25] [--hub-tls stdlib]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_edge_hub import Bench, count_ready_nodes, rss_kb

from edgeplane.client.local import LocalClient
from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port


def _short(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("/edgeplane/", "site-packages/", "python3.11/"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def where(trace: tracemalloc.Traceback) -> str:
    """The innermost edgeplane frame of an allocation, and the library line that allocated (if another)."""
    frames = list(trace)  # oldest first
    innermost = frames[-1]
    for frame in reversed(frames):
        if "/edgeplane/" in frame.filename:
            return _short(frame) + ("" if frame is innermost else f" -> {_short(innermost)}")
    return _short(innermost)


async def measure(args: argparse.Namespace, workdir: Path) -> None:
    port = free_port()
    cloud = CloudProcess(CloudConfig(data_dir=workdir / "cloud", bind_address="127.0.0.1", port=port,
                                     hub_tls=args.hub_tls))
    await cloud.start()
    bench = Bench(argparse.Namespace(procs=args.procs), workdir)
    bench.port, bench.data = port, workdir / "cloud"
    names = [f"hollow-{i:05d}" for i in range(args.nodes)]
    certs = await asyncio.to_thread(bench.issue_certs, names)
    client = LocalClient(cloud.api.ctx)
    try:
        await asyncio.sleep(2)
        gc.collect()
        if args.trace:
            tracemalloc.start(args.depth)
        base_rss = rss_kb(os.getpid())
        base = tracemalloc.take_snapshot() if args.trace else None
        started = time.monotonic()
        bench.start_hollows(certs, names)
        while await count_ready_nodes(client, "hollow-") < args.nodes:
            if time.monotonic() - started > 300:
                raise SystemExit("nodes did not all register within 300 s")
            await asyncio.sleep(0.5)
        print(f"{args.nodes} nodes connected and registered in {time.monotonic() - started:.1f} s; "
              f"idling {args.idle:.0f} s")
        await asyncio.sleep(args.idle)
        gc.collect()
        rss = rss_kb(os.getpid())
        print(f"RSS growth per node: {(rss - base_rss) / args.nodes:.1f} KB"
              + (" (inflated by tracemalloc's own bookkeeping)" if args.trace else ""))
        if base is None:
            return
        diff = tracemalloc.take_snapshot().compare_to(base, "traceback")
        traced = sum(d.size_diff for d in diff)
        print(f"Python allocations per node (tracemalloc): {traced / 1024 / args.nodes:.1f} KB")
        groups: dict[str, int] = {}
        for d in diff:
            key = where(d.traceback)
            groups[key] = groups.get(key, 0) + d.size_diff
        print(f"top allocation sites, bytes per node (of {traced / args.nodes:.0f}):")
        for key, size in sorted(groups.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"  {size / args.nodes:8.0f}  {key}")
    finally:
        tracemalloc.stop()
        bench.stop()
        await cloud.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--procs", type=int, default=2, help="processes the hollow nodes are spread over")
    parser.add_argument("--depth", type=int, default=12, help="traceback frames kept per allocation")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--hub-tls", choices=("lean", "stdlib"), default="lean",
                        help="the hub connections' TLS: the lean transport, or asyncio's SSL transport")
    parser.add_argument("--no-trace", dest="trace", action="store_false", help="RSS only, without tracemalloc")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)
    with tempfile.TemporaryDirectory(prefix="edgeplane-hubmem-") as tmp:
        asyncio.run(measure(args, Path(tmp)))


if __name__ == "__main__":
    main()
