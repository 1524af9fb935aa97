"""The issue's full-length offline scenario: an edge node with 100 pods cut off from the cloud for two minutes.

A real `edgeplane cloud` process, a real edge agent (`edgeplane join`, process runtime, default heartbeat
and Lease settings) reaching the cloud through a TCP proxy the bench controls, and a Deployment of 100
pods on that node, each a real process that records its PID. Then the network is cut (by default a silent
link: connections stay open but every byte is dropped, and new ones get no answer), and while it is down:
  - a few pod processes are killed: the edge restarts them by their restartPolicy, without the cloud;
  - the agent itself is killed (kill -9) and started again, offline: it adopts every pod, restarts none;
  - the cloud deletes a pod of the Deployment (which replaces it with a new one for the same node).
When the network returns, the bench measures the time until the cloud's view has converged: the node
Ready, 100 pods Running, the killed pods with their restarts counted, no other pod restarted, the deleted
pod gone and its replacement Running. Printed: pods kept running, restart counts, convergence time.

Run: .venv/bin/python bench/bench_edge_offline.py [--pods 100] [--offline 120] [--cut silent|refused]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the TCP proxy the integration tests cut networks with

from edgeplane.client.rest import RESTClient  # noqa: E402
from tests.integration.netproxy import TCPProxy  # noqa: E402

NODE = "offline-edge"
KILLED = 3  # pod processes killed while offline


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def edgeplane(workdir: Path, name: str, *args: str) -> subprocess.Popen:
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    env = {**os.environ, "EDGEPLANE_METASERVER_PORT": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "edgeplane.cli", *args], stdout=log, stderr=subprocess.STDOUT,
                            env=env)


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def until(check: Any, timeout: float, what: str, interval: float = 0.1) -> float:
    """Seconds until ``check()`` (sync or async) is true; SystemExit after ``timeout``."""
    started = time.monotonic()
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def deployment(replicas: int, pids: Path) -> dict[str, Any]:
    # $$$$: Kubernetes turns $$ into $ (its escape for $(VAR) expansion); exec keeps the PID.
    container = {"name": "main", "image": "busybox",
                 "command": ["sh", "-c", f'echo $$$$ > {pids}/"$POD_NAME"; exec sleep 100000'],
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fleet", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "fleet"}},
                     "template": {"metadata": {"labels": {"app": "fleet"}},
                                  "spec": {"nodeSelector": {"kubernetes.io/hostname": NODE},
                                           "containers": [container]}}}}


def restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


class Scenario:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.pids = workdir / "pids"
        self.pids.mkdir()
        self.cloud_dir, self.edge_dir = workdir / "cloud", workdir / "edge"
        self.port = free_port()
        self.cloud: subprocess.Popen | None = None
        self.agent: subprocess.Popen | None = None
        self.proxy: TCPProxy | None = None

    def pid_of(self, pod: str) -> int:
        return int((self.pids / pod).read_text().strip() or 0)

    async def node_ready(self, client: RESTClient) -> bool:
        node = await client.get("v1", "nodes", NODE)
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in (node.get("status") or {}).get("conditions") or [])

    async def pods(self, client: RESTClient) -> list[dict[str, Any]]:
        return (await client.list("v1", "pods", "default", label_selector="app=fleet"))["items"]

    async def run(self) -> None:
        args = self.args
        self.cloud = edgeplane(self.workdir, "cloud", "cloud", "--data-dir", str(self.cloud_dir),
                               "--bind-address", "127.0.0.1", "--port", str(self.port))
        await until(lambda: (self.cloud_dir / "admin.kubeconfig").exists(), 60, "the cloud")
        token = subprocess.run([sys.executable, "-m", "edgeplane.cli", "token", "create", "--data-dir",
                                str(self.cloud_dir)], capture_output=True, text=True, check=True,
                               timeout=60).stdout.strip().splitlines()[-1]
        self.proxy = TCPProxy("127.0.0.1", self.port).start()
        self.agent = edgeplane(self.workdir, "edge", "join", "--server", f"https://127.0.0.1:{self.proxy.port}",
                               "--token", token, "--node-name", NODE, "--data-dir", str(self.edge_dir))
        async with RESTClient.from_kubeconfig(self.cloud_dir / "admin.kubeconfig") as client:
            await until(lambda: self._safe(self.node_ready(client)), 60, "the node Ready")
            created = time.monotonic()
            await client.create("apps/v1", "deployments", deployment(args.pods, self.pids), "default")

            async def all_running() -> bool:
                pods = await self.pods(client)
                return sum((p.get("status") or {}).get("phase") == "Running" for p in pods) == args.pods

            await until(all_running, 120, f"{args.pods} pods Running", interval=0.25)
            print(f"online:   {args.pods} pods of a Deployment Running on the node in "
                  f"{time.monotonic() - created:.1f} s")
            before = {p["metadata"]["name"]: self.pid_of(p["metadata"]["name"]) for p in await self.pods(client)}
            names = sorted(before)
            killed, deleted = names[:KILLED], names[KILLED]
            steady = [n for n in names if n not in killed and n != deleted]

            self.proxy.cut(blackhole=args.cut == "silent")
            cut_at = time.monotonic()
            for name in killed:
                os.kill(before[name], signal.SIGKILL)
            await until(lambda: all(self.pid_of(n) not in (0, before[n]) for n in killed), 30,
                        "the edge restarting the killed pods offline")
            restarted_in = time.monotonic() - cut_at
            stop(self.agent, signal.SIGKILL)  # the agent dies offline ...
            self.agent = edgeplane(self.workdir, "edge", "edge", "--data-dir", str(self.edge_dir))  # ... and returns
            await client.delete("v1", "pods", deleted, "default")
            left = args.offline - (time.monotonic() - cut_at)
            if left > 0:
                await asyncio.sleep(left)
            running = sum(alive(self.pid_of(n)) for n in names)
            unchanged = sum(self.pid_of(n) == before[n] for n in steady)
            print(f"offline:  {time.monotonic() - cut_at:.0f} s cut off ({args.cut} link); {KILLED} killed pod "
                  f"processes restarted by the edge within {restarted_in:.1f} s; agent killed (-9) and restarted; "
                  f"at the end {running}/{len(names)} pod processes alive, {unchanged}/{len(steady)} untouched pods "
                  f"still the same process")

            self.proxy.restore()
            view: dict[str, Any] = {}

            async def converged() -> bool:
                if not await self._safe(self.node_ready(client)):
                    return False
                pods = {p["metadata"]["name"]: p for p in await self.pods(client)}
                view.update(pods=pods)
                running_pods = [p for p in pods.values() if (p.get("status") or {}).get("phase") == "Running"]
                return (deleted not in pods and len(pods) == args.pods and len(running_pods) == args.pods
                        and all(restarts(pods[n]) >= 1 for n in killed if n in pods)
                        and all(n in pods for n in killed + steady))

            took = await until(converged, 120, "the cloud's view to converge", interval=0.1)
            pods = view["pods"]
            counts = [restarts(pods[n]) for n in killed]
            others = sum(restarts(p) for n, p in pods.items() if n not in killed)
            replaced = [n for n in pods if n not in before]
            print(f"return:   cloud view converged {took:.1f} s after the network returned (goal <= 10 s): node "
                  f"Ready, {args.pods}/{args.pods} Running; restartCount of the killed pods {counts}, of all others "
                  f"{others}; deleted pod gone, replacement {replaced[0] if replaced else '?'} Running")
            await client.delete("apps/v1", "deployments", "fleet", "default")

    @staticmethod
    async def _safe(check: Any) -> bool:
        try:
            return bool(await check)
        except Exception:  # not there yet (404), or the cloud busy
            return False

    def cleanup(self) -> None:
        stop(self.agent)
        if self.proxy is not None:
            self.proxy.stop()
        stop(self.cloud)
        for pid_file in self.pids.iterdir():  # pods outlive their agent by design
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        subprocess.run([sys.executable, "-m", "edgeplane.cli", "reset", "--yes", "--data-dir", str(self.edge_dir)],
                       capture_output=True, timeout=120, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--offline", type=float, default=120.0, help="seconds the network stays cut")
    parser.add_argument("--cut", choices=("silent", "refused"), default="silent",
                        help="silent: bytes dropped, new connections unanswered; refused: connections reset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeplane-offline-") as tmp:
        scenario = Scenario(args, Path(tmp))
        try:
            asyncio.run(scenario.run())
        finally:
            scenario.cleanup()


if __name__ == "__main__":
    main()
