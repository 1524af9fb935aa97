"""Edge agent memory, the way it runs in production: a real `edgeplane cloud` process, a real edge joined
with a token (`edgeplane join`), then restarted as `edgeplane edge` (what systemd runs), 10 process pods
bound to the node and Running, idle. Reads the agent's RSS, PSS and private memory (USS) from /proc.

Also prints the agent's memory right after `edgeplane join` (the join process goes on as the agent) and the
shared libraries it has mapped, which show which heavy extension modules the agent imported.

Goal: <= 40 MB RSS for the agent idle with 10 pods (KubeEdge's edgecore: ~70 MB).

Run: .venv/bin/python bench/bench_edge_memory.py [--pods 10] [--idle 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edgeplane.client.rest import RESTClient

NODE = "bench-memory-edge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (private) in KiB, from /proc/PID/smaps_rollup."""
    out = {"rss": 0, "pss": 0, "uss": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        value = int(fields[0]) if fields and fields[0].isdigit() else 0
        if key == "Rss":
            out["rss"] = value
        elif key == "Pss":
            out["pss"] = value
        elif key in ("Private_Clean", "Private_Dirty"):
            out["uss"] += value
    return out


def rss_by_mapping(pid: int) -> dict[str, int]:
    """Resident KiB per mapping name: a shared object's file name, or "[heap]"/"[anon]" for Python's objects."""
    out: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):
            name = Path(fields[5]).name if len(fields) >= 6 else "[anon]"
        elif fields and fields[0] == "Rss:":
            out[name] = out.get(name, 0) + int(fields[1])
    return out


def breakdown(pid: int) -> str:
    by = rss_by_mapping(pid)
    python_objects = by.pop("[heap]", 0) + by.pop("[anon]", 0)
    top = sorted(by.items(), key=lambda kv: -kv[1])[:4]
    rest = sum(by.values()) - sum(v for _, v in top)
    threads = next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Threads:"))
    return (f"heap and anonymous (Python objects, malloc) {python_objects / 1024:.1f} MiB; "
            + ", ".join(f"{k} {v / 1024:.1f}" for k, v in top) + f", other files {rest / 1024:.1f} MiB; "
            f"{threads} threads")


def mapped_libraries(pid: int) -> list[str]:
    """File names of the shared objects the process mapped (its extension modules among them)."""
    return sorted(name for name in rss_by_mapping(pid) if ".so" in name)


def fmt(m: dict[str, int]) -> str:
    return f"RSS {m['rss'] / 1024:.1f} MiB, PSS {m['pss'] / 1024:.1f} MiB, USS {m['uss'] / 1024:.1f} MiB"


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", *args], stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


async def idle_memory(pid: int, idle: float) -> dict[str, int]:
    """The agent's memory after ``idle`` seconds, the lowest of three reads a second apart (a sync round
    may be allocating at the moment of one read)."""
    await asyncio.sleep(idle)
    reads = []
    for _ in range(3):
        reads.append(memory(pid))
        await asyncio.sleep(1.0)
    return min(reads, key=lambda m: m["rss"])


async def measure(args: argparse.Namespace, workdir: Path, procs: Processes) -> None:
    cloud_dir, edge_dir = workdir / "cloud", workdir / "edge"
    port = free_port()
    cloud = procs.spawn("cloud", ["cloud", "--data-dir", str(cloud_dir), "--bind-address", "127.0.0.1",
                                  "--port", str(port)])
    deadline = time.monotonic() + 60
    while not (cloud_dir / "admin.kubeconfig").exists():
        if cloud.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the cloud did not start; see {workdir / 'cloud.log'}")
        await asyncio.sleep(0.2)
    token = subprocess.run([sys.executable, "-m", "edgeplane.cli", "token", "create", "--data-dir", str(cloud_dir)],
                           capture_output=True, text=True, check=True, timeout=60).stdout.strip().splitlines()[-1]
    env = {"EDGEPLANE_METASERVER_PORT": str(free_port())}
    agent = procs.spawn("join", ["join", "--server", f"https://127.0.0.1:{port}", "--token", token,
                                 "--node-name", NODE, "--data-dir", str(edge_dir)], env)

    async with RESTClient.from_kubeconfig(cloud_dir / "admin.kubeconfig") as client:
        async def node_ready() -> bool:
            nodes = (await client.list("v1", "nodes"))["items"]
            return any(n["metadata"]["name"] == NODE and any(
                c["type"] == "Ready" and c["status"] == "True" for c in (n.get("status") or {}).get("conditions", []))
                for n in nodes)

        await wait_until(node_ready, 60, f"node {NODE} Ready")
        for i in range(args.pods):
            await client.create("v1", "pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"sleeper-{i}", "labels": {"bench": "mem"}},
                "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox",
                                                           "command": ["sleep", "3600"]}]}}, "default")

        async def all_running() -> bool:
            pods = (await client.list("v1", "pods", "default", label_selector="bench=mem"))["items"]
            return sum((p.get("status") or {}).get("phase") == "Running" for p in pods) == args.pods

        await wait_until(all_running, 60, f"{args.pods} pods Running")
        joined = await idle_memory(agent.pid, args.idle)
        print(f"edgeplane join (goes on as the agent), idle with {args.pods} pods: {fmt(joined)}")

        procs.stop(agent)  # pods keep running; the restarted agent adopts them
        agent = procs.spawn("edge", ["edge", "--data-dir", str(edge_dir)], env)
        await wait_until(node_ready, 60, "the restarted agent to report Ready")
        await wait_until(all_running, 60, "the pods Running after the restart")
        steady = await idle_memory(agent.pid, args.idle)
        print(f"edgeplane edge (restarted, what systemd runs), idle with {args.pods} pods: {fmt(steady)} "
              f"(goal <= 40 MB RSS)")
        print("  resident: " + breakdown(agent.pid))
        print("  shared objects mapped: " + ", ".join(mapped_libraries(agent.pid)))
        procs.stop(agent)
    # The process runtime's pods outlive the agent by design; reset stops them.
    subprocess.run([sys.executable, "-m", "edgeplane.cli", "reset", "--yes", "--data-dir", str(edge_dir)],
                   capture_output=True, timeout=60, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before memory is read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeplane-mem-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            asyncio.run(measure(args, Path(tmp), procs))
        finally:
            procs.stop_all()


if __name__ == "__main__":
    main()
