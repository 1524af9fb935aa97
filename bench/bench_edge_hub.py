"""Edge hub at scale: hollow edge nodes against a real `edgeplane cloud` process.

Hollow nodes are light agents that speak the real hub protocol over real sockets and mutual TLS (one
WebSocket each, many per process, in processes apart from the cloud): they register, renew their Lease,
acknowledge what the hub sends and report every pod they receive as Running at once. So the figures are
the control plane's and the hub's, not a runtime's.

Figures printed:
  - connect: time for every node to connect and register;
  - cloud memory per connected node (RSS growth of the cloud process / nodes; goal <= 30 KB);
  - bytes on the wire per idle node per minute (TCP payload both ways, TLS records included, from the
    kernel's TCP_INFO counters via `ss`, over an idle period);
  - pod startup latency, creation -> Running seen by a watch in the cloud, p50/p90/p99 (goal p99 < 2 s),
    with pods created at a fixed rate across the nodes;
  - reconnect convergence: one node running the real edge hub client and metastore holds 100 pods; while
    it is offline all 100 statuses change; time from its return to the cloud showing all of them.

Defaults are the issue's scale (1,000 nodes, 10,000 pods at 100 pods/s, 60 s idle); `--quick` runs a small
version. The full-length offline scenario with real pods (100 pods, two minutes cut off) is
bench/bench_edge_offline.py; `--scenario offline` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from edgeplane.client.rest import RESTClient
from edgeplane.cloudhub import protocol
from edgeplane.edge.hubclient import HubClient
from edgeplane.edge.metastore import MetaStore
from edgeplane.pki.ca import CertificateAuthority, new_private_key, private_key_pem
from edgeplane.pki.nodeidentity import new_node_csr
from edgeplane.pki.tls import client_ssl_context

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int, kind: str = "VmRSS") -> int:
    """Resident memory of a process in KiB: all of it (VmRSS), or only its anonymous part (RssAnon), which
    leaves out the pages of code and libraries mapped from files."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1])
    return 0


def wire_bytes(port: int, pids: set[int]) -> int:
    """TCP payload bytes both ways (TLS records included) of the connections of ``pids`` to ``port``, from the
    kernel's TCP_INFO (``ss``); other clients of the port (the bench's own API client) are left out."""
    out = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{port} )"], capture_output=True,
                         text=True, check=True).stdout
    total, counted = 0, False
    for line in out.splitlines():
        if not line.startswith(("\t", " ")):
            owner = re.search(r"pid=(\d+)", line)
            counted = owner is not None and int(owner.group(1)) in pids
        elif counted:
            total += sum(int(n) for n in re.findall(r"bytes_(?:acked|received):(\d+)", line))
    return total


def hub_context(ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A node's TLS context for the hub: its certificate, offering the hub's ALPN as every edge does."""
    ctx = client_ssl_context(ca_pem, cert_pem, key_pem)
    ctx.set_alpn_protocols([protocol.HUB_ALPN])
    return ctx


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the hollow side (runs in child processes) --------------------------------------------------------------


class HollowNode:
    """One node: the protocol without a metastore or a runtime (pods are 'Running' on arrival)."""

    def __init__(self, name: str, url: str, ctx: ssl.SSLContext, http: aiohttp.ClientSession) -> None:
        self.name, self.url, self.ctx, self.http = name, url, ctx, http
        self.inventory: dict[str, int] = {}
        self.reported: set[str] = set()
        self.seq = 0

    def _up(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {"t": protocol.UP, "seq": self.seq, "kind": kind, "body": body}

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                ws = await self.http.ws_connect(self.url, ssl=self.ctx, heartbeat=15.0,
                                                max_msg_size=protocol.MAX_FRAME)
                delay = 0.5
                await ws.send_bytes(protocol.encode([
                    {"t": protocol.HELLO, "v": 1, "inventory": self.inventory},
                    self._up("register", {"labels": {"bench": "hollow"}}),
                    self._up("lease", {}),
                    self._up("status", {"resource": "nodes", "name": self.name, "status": node_status()}),
                ]))
                lease = asyncio.create_task(self._leases(ws))
                try:
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            await self._handle(ws, protocol.decode(msg.data))
                finally:
                    lease.cancel()
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(30.0, delay * 2)

    async def _leases(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(10.0)
            await ws.send_bytes(protocol.encode([self._up("lease", {})]))

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, messages: list[dict[str, Any]]) -> None:
        acks, ups = [], []
        for m in messages:
            if m["t"] == protocol.OBJ:
                key, obj = m["key"], m["obj"]
                self.inventory[key] = m["rv"]
                acks.append([key, m["rv"], 0])
                if key.startswith("pods/") and key not in self.reported and not obj["metadata"].get(
                        "deletionTimestamp"):
                    self.reported.add(key)
                    meta = obj["metadata"]
                    ups.append(self._up("status", {"resource": "pods", "namespace": meta["namespace"],
                                                   "name": meta["name"], "uid": meta["uid"],
                                                   "status": pod_status(obj)}))
            elif m["t"] == protocol.DEL:
                self.inventory.pop(m["key"], None)
                acks.append([m["key"], m["rv"], 1])
        out = ([{"t": protocol.ACK, "acks": acks}] if acks else []) + ups
        if out:
            await ws.send_bytes(protocol.encode(out))


def node_status() -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-edgeplane", "containerRuntimeVersion": "hollow://1"}}


def pod_status(pod: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"phase": "Running", "podIP": "10.0.0.1", "hostIP": "10.0.0.1", "startTime": now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "ready": True, "started": True,
                                   "restartCount": restarts, "state": {"running": {"startedAt": now}}}
                                  for c in pod["spec"]["containers"]]}


async def hollow_main(url: str, certs: Path, names: list[str]) -> None:
    ca_pem = (certs / "ca.crt").read_bytes()
    key_pem = (certs / "node.key").read_bytes()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        nodes = []
        for name in names:
            ctx = hub_context(ca_pem, (certs / f"{name}.crt").read_bytes(), key_pem)
            nodes.append(HollowNode(name, url, ctx, http))
        tasks = []
        for node in nodes:
            tasks.append(asyncio.create_task(node.run()))
            await asyncio.sleep(0.002)  # ramp up rather than one handshake storm
        await asyncio.gather(*tasks)


# -- the driver ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.port = free_port()
        self.data = workdir / "cloud"
        self.cloud: subprocess.Popen | None = None
        self.hollows: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start_cloud(self) -> None:
        log = open(self.workdir / "cloud.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.cloud = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", "cloud", "--data-dir", str(self.data),
                                       "--bind-address", "127.0.0.1", "--port", str(self.port)],
                                      stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.data / "admin.kubeconfig").exists():
            if time.monotonic() > deadline or self.cloud.poll() is not None:
                raise SystemExit("the cloud did not start; see " + str(self.workdir / "cloud.log"))
            time.sleep(0.2)

    def issue_certs(self, names: list[str]) -> Path:
        """One shared key (key generation is not what is measured), one certificate per node."""
        ca = CertificateAuthority.load(self.data / "pki")
        certs = self.workdir / "certs"
        certs.mkdir()
        key = new_private_key()
        (certs / "node.key").write_bytes(private_key_pem(key))
        (certs / "ca.crt").write_bytes(ca.cert_pem)
        for name in names:
            csr = new_node_csr(key, name)
            (certs / f"{name}.crt").write_bytes(ca.sign_csr(csr, f"system:node:{name}", ["system:nodes"], 30))
        return certs

    def start_hollows(self, certs: Path, names: list[str]) -> None:
        per = -(-len(names) // self.args.procs)
        for i in range(self.args.procs):
            chunk = names[i * per:(i + 1) * per]
            if not chunk:
                continue
            self.hollows.append(subprocess.Popen(
                [sys.executable, __file__, "hollow", "--url", self.url.replace("https", "wss") + protocol.HUB_PATH,
                 "--certs", str(certs), *chunk], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for p in [*self.hollows, self.cloud]:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*self.hollows, self.cloud]:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


async def count_ready_nodes(client: RESTClient, prefix: str) -> int:
    nodes = (await client.list("v1", "nodes", resource_version="0"))["items"]
    return sum(1 for n in nodes if n["metadata"]["name"].startswith(prefix) and n.get("status", {}).get("capacity"))


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="edgeplane-hub-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            await measure(bench, args)
        finally:
            bench.stop()


async def measure(bench: Bench, args: argparse.Namespace) -> None:
    bench.start_cloud()
    assert bench.cloud is not None
    names = [f"hollow-{i:05d}" for i in range(args.nodes)]
    certs = await asyncio.to_thread(bench.issue_certs, [*names, "real-edge"])
    async with RESTClient.from_kubeconfig(bench.data / "admin.kubeconfig") as client:
        await asyncio.sleep(3)
        # The baseline after one listing, so the REST path's one-time costs (lazy imports, first TLS
        # client) do not count against the nodes.
        await count_ready_nodes(client, "hollow-")
        await asyncio.sleep(1)
        base_rss, base_anon = rss_kb(bench.cloud.pid), rss_kb(bench.cloud.pid, "RssAnon")
        started = time.monotonic()
        bench.start_hollows(certs, names)
        while await count_ready_nodes(client, "hollow-") < args.nodes:
            if time.monotonic() - started > 300:
                raise SystemExit("nodes did not all register within 300 s")
            await asyncio.sleep(0.5)
        print(f"connect:       {args.nodes} nodes connected and registered in {time.monotonic() - started:.1f} s")
        await asyncio.sleep(5)

        def report(when: str, goal: str = "") -> None:
            rss, anon = rss_kb(bench.cloud.pid), rss_kb(bench.cloud.pid, "RssAnon")
            print(f"memory:        cloud RSS {base_rss / 1024:.0f} MB -> {rss / 1024:.0f} MB {when}: "
                  f"{(rss - base_rss) / args.nodes:.1f} KB per connected node{goal}; anonymous only "
                  f"(without code and libraries paged in): {(anon - base_anon) / args.nodes:.1f} KB")

        report("just after connecting", " (handshakes' and listings' garbage included)")
        pids = {p.pid for p in bench.hollows}
        before = wire_bytes(bench.port, pids)
        await asyncio.sleep(args.idle)
        idle = wire_bytes(bench.port, pids) - before
        print(f"idle traffic:  {idle / args.nodes / (args.idle / 60):.0f} bytes per idle node per minute "
              f"(TLS records incl. heartbeats and Lease renewals, over {args.idle:.0f} s)")
        report(f"after {args.idle:.0f} s idle", " (goal <= 30 KB)")
        if args.memory_only:
            return

        await pod_latency(client, names, args)
        await reconnect_convergence(client, bench, certs)


async def pod_latency(client: RESTClient, names: list[str], args: argparse.Namespace) -> None:
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        rv = (await client.list("v1", "pods", "default", label_selector="bench=hub"))["metadata"]["resourceVersion"]
        while True:  # a watch the server closes (timeout, slow reader) is resumed from the last version seen
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async for ev in client.watch("v1", "pods", "default", label_selector="bench=hub",
                                             resource_version=rv):
                    pod = ev["object"]
                    rv = pod["metadata"].get("resourceVersion", rv)
                    name = pod["metadata"].get("name", "")
                    if name not in running and (pod.get("status") or {}).get("phase") == "Running":
                        running[name] = time.monotonic()
                        if len(running) >= args.pods:
                            done.set()
                            return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    interval = 1.0 / args.rate
    start = time.monotonic()
    sem = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        name = f"p{i:06d}"
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "hub"}},
                "spec": {"nodeName": names[i % len(names)],
                         "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1d"]}]}}
        async with sem:
            created[name] = time.monotonic()
            await client.create("v1", "pods", body, "default")

    tasks = []
    for i in range(args.pods):
        target = start + i * interval
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(create(i)))
    await asyncio.gather(*tasks)
    rate = args.pods / (time.monotonic() - start)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 60)
    watcher.cancel()
    latencies = [running[n] - created[n] for n in running if n in created]
    pods = (await client.list("v1", "pods", "default", label_selector="bench=hub"))["items"]
    missing = sum(1 for p in pods if (p.get("status") or {}).get("phase") != "Running")
    print(f"pod startup:   {args.pods} pods at {rate:.0f}/s over {len(names)} nodes: creation -> Running "
          f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p90 {percentile(latencies, 90) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms (goal p99 < 2 s)"
          + (f"; {missing} never seen Running" if missing else ""))


async def reconnect_convergence(client: RESTClient, bench: Bench, certs: Path) -> None:
    """The real edge hub client and metastore, 100 pods, offline status changes, then the network returns."""
    ca_pem, key_pem = (certs / "ca.crt").read_bytes(), (certs / "node.key").read_bytes()
    cert_pem = (certs / "real-edge.crt").read_bytes()
    ms = MetaStore(bench.workdir / "real-edge.db")
    hub = HubClient(ms, bench.url, lambda: hub_context(ca_pem, cert_pem, key_pem))
    ms.report_registration({})
    task = asyncio.create_task(hub.run())
    for i in range(100):
        await client.create("v1", "pods", {"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": f"real-{i:03d}", "labels": {"bench": "real"}},
                                           "spec": {"nodeName": "real-edge", "containers": [
                                               {"name": "c", "image": "busybox", "command": ["sleep", "1d"]}]}},
                            "default")
    while len(ms.list("pods")) < 100:
        await asyncio.sleep(0.05)
    task.cancel()  # the network goes away
    await asyncio.gather(task, return_exceptions=True)
    for pod in ms.list("pods"):  # meanwhile every pod restarted once
        ms.report_status("pods", "default", pod["metadata"]["name"], pod_status(pod, restarts=1))
    returned = time.monotonic()
    task = asyncio.create_task(hub.run())  # the network is back
    while True:
        pods = (await client.list("v1", "pods", "default", label_selector="bench=real"))["items"]
        if sum(1 for p in pods if (p.get("status") or {}).get("containerStatuses", [{}])[0]
               .get("restartCount") == 1) == 100:
            break
        await asyncio.sleep(0.02)
    print(f"reconnect:     100 pod statuses converged in the cloud {(time.monotonic() - returned) * 1000:.0f} ms "
          f"after the network returned")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    ms.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "hollow":
        parser = argparse.ArgumentParser()
        parser.add_argument("--url", required=True)
        parser.add_argument("--certs", type=Path, required=True)
        parser.add_argument("names", nargs="+")
        a = parser.parse_args(sys.argv[2:])
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        asyncio.run(hollow_main(a.url, a.certs, a.names))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="pods created per second")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle traffic measured")
    parser.add_argument("--procs", type=int, default=4, help="processes the hollow nodes are spread over")
    parser.add_argument("--quick", action="store_true", help="50 nodes, 500 pods, 20 s idle")
    parser.add_argument("--memory-only", action="store_true",
                        help="stop after the memory and idle-traffic figures (no pod startup, no reconnect)")
    parser.add_argument("--scenario", choices=("scale", "offline"), default="scale")
    args = parser.parse_args()
    if args.scenario == "offline":
        raise SystemExit(subprocess.call([sys.executable, str(ROOT / "bench" / "bench_edge_offline.py")]))
    if args.quick:
        args.nodes, args.pods, args.idle, args.procs = 50, 500, 20.0, 2
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
