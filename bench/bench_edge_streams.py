"""Operating edge workloads through the edge's hub connection: log throughput and exec round trip.

A real cloud and a real edge agent (process runtime) run as OS processes on loopback. Figures:
- log throughput: ``GET pods/NAME/log`` of a 9.8 MB log (under the 10 MiB rotation size) through the API
  server, the hub connection and the edge, against reading and formatting the same file on the edge in
  the same run (no tunnel), and against a plain read of the file;
- exec round trip: a one-byte write to ``cat`` over ``v5.channel.k8s.io`` until its echo returns, p50/p99.

Run: .venv/bin/python bench/bench_edge_streams.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from edgeplane.edge.podlogs import LogOptions, stream_log
from edgeplane.pki.kubeconfig import load_kubeconfig
from edgeplane.pki.tls import client_ssl_context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, create_token, wait_for

LOG_BYTES = 7_000_000  # of output; 9.8 MB of CRI log (40-byte prefix per 100-byte line), below rotation
LOG_FILE_BYTES = LOG_BYTES // 100 * 140
RUNS = 5
ROUND_TRIPS = 300


async def _main(cloud: Cloud, log_path: Path) -> None:
    cfg = load_kubeconfig(cloud.kubeconfig)
    ssl = client_ssl_context(cfg["ca_pem"], cfg["cert_pem"], cfg["key_pem"])
    base = f"{cloud.url}/api/v1/namespaces/default/pods"
    async with aiohttp.ClientSession() as http:
        tunnel: list[float] = []
        for _ in range(RUNS):
            started, size = time.perf_counter(), 0
            async with http.get(f"{base}/bulk/log", ssl=ssl) as response:
                async for chunk in response.content.iter_any():
                    size += len(chunk)
            tunnel.append(size / (time.perf_counter() - started) / 1e6)

        local: list[float] = []
        for _ in range(RUNS):
            started, size = time.perf_counter(), 0

            async def emit(pieces: list[tuple[bytes, bytes]]) -> None:
                nonlocal size
                size += len(b"".join(text for _, text in pieces))

            async def stopped() -> bool:
                return False

            await stream_log(log_path, LogOptions(), emit, stopped, lambda: False)
            local.append(size / (time.perf_counter() - started) / 1e6)
        raw: list[float] = []
        for _ in range(RUNS):
            started = time.perf_counter()
            data = log_path.read_bytes()
            raw.append(len(data) / (time.perf_counter() - started) / 1e6)

        print(f"log of {size / 1e6:.1f} MB ({RUNS} runs, best):")
        print(f"  through the tunnel (API server -> hub -> edge): {max(tunnel):7.1f} MB/s "
              f"(median {statistics.median(tunnel):.1f})")
        print(f"  read and formatted on the edge, no tunnel:      {max(local):7.1f} MB/s "
              f"(median {statistics.median(local):.1f})")
        print(f"  plain file read on the edge:                    {max(raw):7.1f} MB/s")

        url = (f"{base}/shell/exec?command=cat&stdin=true&stdout=true&stderr=true&tty=false"
               .replace("https://", "wss://"))
        async with http.ws_connect(url, protocols=("v5.channel.k8s.io",), ssl=ssl) as ws:
            times: list[float] = []
            for i in range(ROUND_TRIPS):
                byte = bytes((65 + i % 26,))
                started = time.perf_counter()
                await ws.send_bytes(b"\x00" + byte)
                msg = await ws.receive()
                assert msg.data == b"\x01" + byte, msg
                times.append((time.perf_counter() - started) * 1000)
            await ws.send_bytes(b"\xff\x00")  # close stdin: cat exits
        times.sort()
        print(f"exec round trip of one byte ({ROUND_TRIPS}): p50 {times[len(times) // 2]:.2f} ms, "
              f"p99 {times[int(len(times) * 0.99)]:.2f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="edgeplane-bench-streams-") as tmp:
        base = Path(tmp)
        pids = base / "pids"
        pids.mkdir()
        cloud = Cloud(base / "data").start()
        edge = EdgeNode(base / "edge", cloud.url, "bench-edge")
        try:
            edge.join(create_token(cloud))
            kubectl_env = {**os.environ, "KUBECONFIG": str(cloud.kubeconfig)}
            line = "0123456789" * 9 + "abcdefghi"
            pods = {
                "bulk": f"echo $$$$ > {pids}/bulk; yes {line} | head -c {LOG_BYTES // 100 * 100}; "
                        "exec sleep 100000",
                "shell": f"echo $$$$ > {pids}/shell; exec sleep 100000",
            }
            for name, script in pods.items():
                manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                            "spec": {"nodeName": "bench-edge", "restartPolicy": "Never",
                                     "containers": [{"name": "main", "image": "busybox",
                                                     "command": ["sh", "-c", script]}]}}
                _apply(manifest, kubectl_env)
            uid = wait_for(lambda: _running_uid("bulk", kubectl_env), 60, "the bulk pod Running")
            wait_for(lambda: _running_uid("shell", kubectl_env), 60, "the shell pod Running")
            log_dir = base / "edge" / "pods" / uid / "containers" / "main"
            log_path = next(log_dir.glob("*/container.log"))
            wait_for(lambda: log_path.stat().st_size >= LOG_FILE_BYTES, 60, "the bulk log written")
            asyncio.run(_main(cloud, log_path))
        finally:
            edge.stop()
            cloud.stop()
            for pid_file in pids.iterdir():
                try:
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
                except (ValueError, OSError):
                    pass


def _apply(manifest: dict, env: dict[str, str]) -> None:
    subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(manifest), text=True, env=env, check=True,
                   capture_output=True)


def _running_uid(name: str, env: dict[str, str]) -> str:
    out = subprocess.run(["kubectl", "get", "pod", name, "-o", "json"], capture_output=True, text=True, env=env)
    pod = json.loads(out.stdout or "{}")
    return pod["metadata"]["uid"] if (pod.get("status") or {}).get("phase") == "Running" else ""


if __name__ == "__main__":
    main()
