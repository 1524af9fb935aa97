"""Edge pod figures: time to bring 10 process pods to Running, and the memory of the agent side
(metastore + pod manager + metaserver in this process) and of the per-container supervisors, idle.

Run: .venv/bin/python bench/bench_edge_pods.py
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
import uuid
from pathlib import Path

from edgeplane.edge.metaserver import MetaServer
from edgeplane.edge.metastore import Change, MetaStore
from edgeplane.edge.podmanager import PodManager
from edgeplane.edge.runtimes.process import ProcessRuntime

PODS = 10
NODE = "bench-node"


def memory(pid: int | str = "self") -> dict[str, int]:
    """RSS, PSS and USS (private) in KiB from /proc."""
    out = {"rss": 0, "pss": 0, "uss": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        value = int(rest.split()[0]) if rest.split() and rest.split()[0].isdigit() else 0
        if key == "Rss":
            out["rss"] = value
        elif key == "Pss":
            out["pss"] = value
        elif key in ("Private_Clean", "Private_Dirty"):
            out["uss"] += value
    return out


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="edgeplane-bench-"))
    store = MetaStore(data / "metastore.db")
    runtime = ProcessRuntime(data, host_ip="127.0.0.1")
    manager = PodManager(store, NODE, runtime, data, sync_period=1.0)
    metaserver = MetaServer(store, port=0)
    await metaserver.start()
    await manager.start()
    started = time.monotonic()
    for i in range(PODS):
        name = f"sleeper-{i}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
               "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "none",
                                                          "command": ["sleep", "3600"]}]}}
        store.apply([Change("pods", "default", name, i + 1, pod)])

    def running() -> int:
        return sum((p.get("status") or {}).get("phase") == "Running" for p in store.list("pods"))

    while running() < PODS:
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    await asyncio.sleep(3)  # idle: a few sync rounds
    gc.collect()
    agent = memory()
    supervisors = [memory(runtime._read_state(p["metadata"]["uid"], "c", 0)["supervisorPid"])
                   for p in store.list("pods")]
    print(f"pods Running: {PODS} in {elapsed * 1000:.0f} ms")
    print(f"agent side (this process, idle with {PODS} pods): RSS {agent['rss'] / 1024:.1f} MiB, "
          f"USS {agent['uss'] / 1024:.1f} MiB")
    per = {k: sum(s[k] for s in supervisors) / len(supervisors) / 1024 for k in ("rss", "pss", "uss")}
    print(f"supervisor (one per container, x{len(supervisors)}): RSS {per['rss']:.1f} MiB, "
          f"PSS {per['pss']:.1f} MiB, USS {per['uss']:.1f} MiB each")
    total = (agent["pss"] + sum(s["pss"] for s in supervisors)) / 1024
    print(f"total PSS agent + supervisors: {total:.1f} MiB")
    started = time.monotonic()
    for pod in store.list("pods"):
        await runtime.remove_pod(pod["metadata"]["uid"])
    await manager.stop()
    await metaserver.stop()
    print(f"stopped {PODS} pods in {(time.monotonic() - started) * 1000:.0f} ms")
    store.close()


if __name__ == "__main__":
    asyncio.run(main())
