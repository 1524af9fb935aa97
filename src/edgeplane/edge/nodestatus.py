"""The node's status as the kubelet reports it: capacity, allocatable, addresses, nodeInfo, conditions.

The status is recomputed every ``period`` seconds from the host, and reported through the metastore
when something in it changed or ``report_every`` passed (liveness itself is the node Lease, renewed by the
hub client), so an idle node sends almost nothing upstream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from edgeplane.edge import hostnet
from edgeplane.edge.metastore import MetaStore

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.32.0-edgeplane"
MAX_PODS = 110
MEMORY_PRESSURE_BYTES = 100 << 20  # less available memory than this: MemoryPressure
DISK_PRESSURE_FRACTION = 0.10  # less free disk than this fraction: DiskPressure
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


class NodeStatusReporter:
    def __init__(
        self, metastore: MetaStore, node_name: str, runtime_name: str, *, runtime_version: str = "",
        data_dir: Path | None = None, period: float = 10.0, report_every: float = 300.0, host_ip: str = "",
    ) -> None:
        self.store = metastore
        self.node_name = node_name
        self.runtime_name = runtime_name
        self.runtime_version = runtime_version
        self.data_dir = data_dir or Path("/")
        self.period = period
        self.report_every = report_every
        self.host_ip = host_ip
        self._last: dict[str, Any] | None = None
        self._last_at = 0.0
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something changed (a label, an address): report now rather than at the next period."""
        self._wake.set()

    async def run(self) -> None:
        if not self.runtime_version:
            self.runtime_version = await runtime_version(self.runtime_name)
        while True:
            try:
                self.report_once()
            except Exception:
                log.exception("node status report failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.period)
            except TimeoutError:
                pass
            self._wake.clear()

    def report_once(self) -> bool:
        """Reports the status if it changed (heartbeats aside) or is due; True if it reported."""
        status = self.compute()
        now = time.time()
        if self._last == _without_heartbeats(status) and now - self._last_at < self.report_every:
            return False
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        for condition in status["conditions"]:
            condition["lastHeartbeatTime"] = stamp
        self.store.report_status("nodes", "", self.node_name, status)
        self._last, self._last_at = _without_heartbeats(status), now
        return True

    def compute(self) -> dict[str, Any]:
        mem = meminfo()
        disk = shutil.disk_usage(self.data_dir if self.data_dir.exists() else "/")
        capacity = {
            "cpu": str(os.cpu_count() or 1),
            "memory": f"{mem.get('MemTotal', 0) // 1024}Ki",
            "pods": str(MAX_PODS),
            "ephemeral-storage": f"{disk.total // 1024}Ki",
        }
        ip = self.host_ip or hostnet.primary_ip()
        old = ((self.store.get("nodes", "", self.node_name) or {}).get("status") or {}).get("conditions") or ()
        previous = {c.get("type"): c for c in old}
        available = mem.get("MemAvailable", mem.get("MemFree", 0))
        conditions = [
            _condition(previous, "MemoryPressure", available < MEMORY_PRESSURE_BYTES,
                       "KubeletHasInsufficientMemory", "KubeletHasSufficientMemory",
                       "kubelet has insufficient memory available", "kubelet has sufficient memory available"),
            _condition(previous, "DiskPressure", disk.free < disk.total * DISK_PRESSURE_FRACTION,
                       "KubeletHasDiskPressure", "KubeletHasNoDiskPressure",
                       "kubelet has disk pressure", "kubelet has no disk pressure"),
            _condition(previous, "PIDPressure", False, "KubeletHasInsufficientPID", "KubeletHasSufficientPID",
                       "kubelet has insufficient PID available", "kubelet has sufficient PID available"),
            _condition(previous, "Ready", False, "KubeletNotReady", "KubeletReady",
                       "", "kubelet is posting ready status"),
        ]
        machine_id = _read("/etc/machine-id")
        return {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": hostnet.hostname()}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": machine_id,
                "systemUUID": _read("/sys/class/dmi/id/product_uuid") or machine_id,
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(),
                "osImage": os_image(),
                "containerRuntimeVersion": self.runtime_version or f"{self.runtime_name}://unknown",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _ARCH.get(platform.machine(), platform.machine()),
            },
        }


def _condition(
    previous: dict[Any, dict[str, Any]], kind: str, bad: bool, bad_reason: str, good_reason: str,
    bad_message: str, good_message: str,
) -> dict[str, Any]:
    """A node condition; for pressure conditions "True" is bad, for Ready it is good."""
    status = "True" if bad != (kind == "Ready") else "False"
    old = previous.get(kind) or {}
    since = old.get("lastTransitionTime") if old.get("status") == status else None
    return {
        "type": kind, "status": status,
        "lastHeartbeatTime": "", "lastTransitionTime": since or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reason": bad_reason if bad else good_reason, "message": bad_message if bad else good_message,
    }


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    return {**status, "conditions": [{**c, "lastHeartbeatTime": ""} for c in status["conditions"]]}


async def runtime_version(runtime_name: str) -> str:
    """``process://1``, or ``podman://<version>`` asked of the podman CLI."""
    if runtime_name != "podman":
        return f"{runtime_name}://1"
    try:
        proc = await asyncio.create_subprocess_exec(
            "podman", "version", "--format", "{{.Client.Version}}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
    except OSError:
        return "podman://unknown"
    return f"podman://{out.decode().strip() or 'unknown'}"
