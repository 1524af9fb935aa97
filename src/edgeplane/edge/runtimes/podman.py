"""The ``podman`` runtime: OCI containers through the podman CLI (rootful or rootless, no daemon).

Each instance of a pod's container is one podman container named ``edgeplane-<uid>-<name>-<attempt>`` and
labelled with its pod and container, so the runtime's state lives in podman and is found again after an
agent restart. Logs use podman's ``k8s-file`` driver, which writes the CRI log format the process runtime
writes, under ``pods/<uid>/containers/<name>/<attempt>.log``.

Podman is configured for what edge hosts have: runc, the cgroupfs cgroup manager, a file events logger,
and ``nofile``/``nproc`` ulimits equal to the agent's own (podman's defaults can exceed what a host or a
container host allows, and runc then fails to start anything). Each container has its own network
namespace on podman's default network (``hostNetwork`` pods use the host's); ``hostPort`` publishes a port.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from edgeplane.edge import hostnet
from edgeplane.edge.runtimes.interface import (
    ContainerConfig,
    ContainerConfigError,
    ContainerState,
    ExecCommand,
    ImageError,
    Runtime,
)

LABEL = "io.edgeplane"
SNAPSHOT_TTL = 0.5  # seconds one `podman ps` answers every inspect of a sync round
COMMAND_LIMIT = 300.0  # seconds any podman command may take (a pull can be slow)


class PodmanError(RuntimeError):
    pass


def _ulimit(kind: int, name: str, ceiling: int = 1 << 20) -> list[str]:
    """The agent's own limit as a podman --ulimit (never above what runc may set without privileges)."""
    soft, hard = resource.getrlimit(kind)
    hard = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    return ["--ulimit", f"{name}={soft}:{hard}"]


def _pid_max() -> int:
    # podman starts conmon with nproc lowered to the kernel's pid_max; asking runc for more then fails.
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        return 32768


class PodmanRuntime(Runtime):
    name = "podman"

    def __init__(self, data_dir: Path, *, podman: str = "podman", host_ip: str = "") -> None:
        self.pods_dir = Path(data_dir) / "pods"
        # Every container carries its node's data directory: one host may run several nodes (or test
        # sessions), and a node must never list, adopt or remove another node's containers.
        self.node_dir = str(Path(data_dir).resolve())
        self.podman = podman
        self.host_ip = host_ip or hostnet.primary_ip()
        self.global_args = ["--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        self.ulimits = _ulimit(resource.RLIMIT_NOFILE, "nofile") + _ulimit(resource.RLIMIT_NPROC, "nproc", _pid_max())
        self._snapshot: list[dict[str, Any]] | None = None
        self._snapshot_at = 0.0
        self._details: dict[str, dict[str, Any]] = {}  # container id -> podman inspect (IP, OOMKilled)
        self._version = ""

    async def _run(self, *args: str, check: bool = True, time_limit: float = COMMAND_LIMIT) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            self.podman, *self.global_args, *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), time_limit)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        code = proc.returncode or 0
        if check and code != 0:
            raise PodmanError(f"podman {args[0]} failed ({code}): {err.decode(errors='replace').strip()}")
        return code, out.decode(errors="replace"), err.decode(errors="replace").strip()

    async def version(self) -> str:
        if not self._version:
            _, out, _ = await self._run("version", "--format", "{{.Client.Version}}")
            self._version = out.strip()
        return f"podman://{self._version}"

    # -- images --------------------------------------------------------------------------------------

    async def ensure_image(self, image: str, policy: str) -> None:
        if not image:
            raise ContainerConfigError("the container has no image", "InvalidImageName")
        present = (await self._run("image", "exists", image, check=False))[0] == 0
        if policy == "Never" and not present:
            raise ImageError(f'container image "{image}" is not present with pull policy of Never',
                             "ErrImageNeverPull")
        if policy == "Always" or not present:
            code, _, err = await self._run("pull", "--quiet", image, check=False)
            if code != 0:
                raise ImageError(f'failed to pull image "{image}": {err}')

    # -- lifecycle -----------------------------------------------------------------------------------

    def _log_path(self, pod_uid: str, name: str, attempt: int) -> Path:
        return self.pods_dir / pod_uid / "containers" / name / f"{attempt}.log"

    async def start(self, config: ContainerConfig) -> ContainerState:
        await self.ensure_image(config.image, config.image_pull_policy)
        log_path = self._log_path(config.pod_uid, config.name, config.attempt)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        name = f"edgeplane-{config.pod_uid}-{config.name}-{config.attempt}"
        await self._run("rm", "-f", "--ignore", name, check=False)  # a start that failed half-way
        args = ["run", "-d", "--name", name, *self.ulimits,
                "--log-driver", "k8s-file", "--log-opt", f"path={log_path}"]
        labels = {"pod.uid": config.pod_uid, "pod.namespace": config.pod_namespace,
                  "pod.name": config.pod_name, "container": config.name, "attempt": str(config.attempt),
                  "node-dir": self.node_dir}
        for key, value in labels.items():
            args += ["--label", f"{LABEL}.{key}={value}"]
        if config.host_network:
            args += ["--network", "host"]
        for port in config.ports:
            if port.host_port:
                args += ["-p", f"{port.host_port}:{port.container_port}/{port.protocol.lower()}"]
        for key, value in config.env.items():
            args += ["-e", f"{key}={value}"]
        for mount in config.mounts:
            args += ["-v", f"{mount.host_path}:{mount.container_path}{':ro' if mount.read_only else ''}"]
        if config.working_dir:
            args += ["-w", config.working_dir]
        if config.entrypoint_override:
            args += ["--entrypoint", json.dumps(config.command), config.image]
        else:
            args += [config.image, *config.command]
        code, _, err = await self._run(*args, check=False)
        self._snapshot = None
        if code == 125:  # podman refused the configuration; nothing was created
            raise ContainerConfigError(f"podman run: {err}", "RunContainerError")
        await self._forget_old(config.pod_uid, config.name, config.attempt)
        state = await self.inspect(config.pod_uid, config.name)
        if state is None:
            raise ContainerConfigError(f"podman run: {err or 'the container was not created'}", "RunContainerError")
        return state

    async def stop(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        state = await self.inspect(pod_uid, name)
        if state is None or not state.running:
            return
        await self._run("stop", "-t", str(max(round(grace_seconds), 0)), state.id, check=False)
        self._snapshot = None

    async def _containers(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        if self._snapshot is None or now - self._snapshot_at > SNAPSHOT_TTL:
            _, out, _ = await self._run("ps", "-a", "--filter", f"label={LABEL}.node-dir={self.node_dir}",
                                        "--format", "json")
            self._snapshot = json.loads(out or "[]")
            self._snapshot_at = now
        return self._snapshot

    async def _instances(self, pod_uid: str, name: str) -> list[dict[str, Any]]:
        found = [c for c in await self._containers()
                 if (c.get("Labels") or {}).get(f"{LABEL}.pod.uid") == pod_uid
                 and (c.get("Labels") or {}).get(f"{LABEL}.container") == name]
        return sorted(found, key=lambda c: int(c["Labels"][f"{LABEL}.attempt"]))

    async def _detail(self, cid: str, refresh: bool) -> dict[str, Any]:
        if refresh or cid not in self._details:
            code, out, _ = await self._run("container", "inspect", cid, check=False)
            self._details[cid] = (json.loads(out) or [{}])[0] if code == 0 else {}
        return self._details[cid]

    async def _state(self, entry: dict[str, Any]) -> ContainerState:
        labels = entry["Labels"]
        cid = entry["Id"]
        running = entry.get("State") == "running"
        state = ContainerState(
            pod_uid=labels[f"{LABEL}.pod.uid"], name=labels[f"{LABEL}.container"], id=cid,
            attempt=int(labels[f"{LABEL}.attempt"]), running=running,
            started_at=entry.get("StartedAt") or None, image=entry.get("Image", ""),
            image_id=entry.get("ImageID", ""),
        )
        detail = await self._detail(cid, refresh=False)
        networks = ((detail.get("NetworkSettings") or {}).get("Networks") or {}).values()
        state.ip = (detail.get("NetworkSettings") or {}).get("IPAddress") or next(
            (n.get("IPAddress") for n in networks if n.get("IPAddress")), "") or ""
        if detail.get("HostConfig", {}).get("NetworkMode") == "host":
            state.ip = self.host_ip
        if not running:
            if cid not in self._details or self._details[cid].get("State", {}).get("Status") == "running":
                detail = await self._detail(cid, refresh=True)
            info = detail.get("State") or {}
            state.exit_code = int(entry.get("ExitCode") or info.get("ExitCode") or 0)
            exited_at = entry.get("ExitedAt") or 0
            state.finished_at = exited_at if exited_at > 0 else None
            if info.get("OOMKilled"):
                state.reason = "OOMKilled"
            elif entry.get("State") in ("created", "configured") or info.get("Error"):
                state.reason = "StartError"
                state.message = info.get("Error") or "the container never started"
                state.exit_code = state.exit_code or 128
                state.started_at = state.started_at if state.started_at and state.started_at > 0 else None
            else:
                state.reason = "Completed" if state.exit_code == 0 else "Error"
        return state

    async def inspect(self, pod_uid: str, name: str) -> ContainerState | None:
        instances = await self._instances(pod_uid, name)
        return await self._state(instances[-1]) if instances else None

    async def previous(self, pod_uid: str, name: str) -> ContainerState | None:
        instances = await self._instances(pod_uid, name)
        return await self._state(instances[-2]) if len(instances) > 1 else None

    async def list(self) -> list[ContainerState]:
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in await self._containers():
            labels = entry.get("Labels") or {}
            key = (labels.get(f"{LABEL}.pod.uid", ""), labels.get(f"{LABEL}.container", ""))
            if key not in latest or int(labels[f"{LABEL}.attempt"]) > int(latest[key]["Labels"][f"{LABEL}.attempt"]):
                latest[key] = entry
        return [await self._state(e) for e in latest.values()]

    async def _forget_old(self, pod_uid: str, name: str, current: int) -> None:
        old = [c["Id"] for c in await self._instances(pod_uid, name)
               if int(c["Labels"][f"{LABEL}.attempt"]) < current - 1]
        if old:
            await self._run("rm", "-f", *old, check=False)
            self._snapshot = None

    async def remove_pod(self, pod_uid: str) -> None:
        ids = [c["Id"] for c in await self._containers() if c["Labels"].get(f"{LABEL}.pod.uid") == pod_uid]
        if ids:
            await self._run("rm", "-f", "-t", "0", *ids, check=False)
        self._snapshot = None
        for cid in ids:
            self._details.pop(cid, None)
        await asyncio.to_thread(shutil.rmtree, self.pods_dir / pod_uid, True)

    def log_paths(self, pod_uid: str, name: str) -> tuple[Path | None, Path | None]:
        directory = self.pods_dir / pod_uid / "containers" / name
        try:
            attempts = sorted(int(p.stem) for p in directory.glob("*.log") if p.stem.isdigit())
        except FileNotFoundError:
            attempts = []
        paths = [self._log_path(pod_uid, name, a) for a in attempts[-2:]]
        return (paths[-1] if paths else None), (paths[-2] if len(paths) == 2 else None)

    async def exec_probe(self, pod_uid: str, name: str, command: list[str], time_limit: float) -> tuple[int, str]:
        state = await self.inspect(pod_uid, name)
        if state is None or not state.running:
            return 1, "container is not running"
        code, out, err = await self._run("exec", state.id, *command, check=False, time_limit=time_limit)
        return code, (out + err)[:1024]

    async def exec_command(self, pod_uid: str, name: str, command: list[str], *, stdin: bool,
                           tty: bool) -> ExecCommand:
        """``podman exec`` in the container (it gets a terminal of its own with -t)."""
        self._snapshot = None  # the container may have stopped a moment ago
        state = await self.inspect(pod_uid, name)
        if state is None or not state.running:
            raise ContainerConfigError(f"container {name} is not running")
        flags = (["-i"] if stdin else []) + (["-t"] if tty else [])
        return ExecCommand([self.podman, *self.global_args, "exec", *flags, state.id, *command])

    def pod_ip(self, states: list[ContainerState]) -> str:
        return next((s.ip for s in states if s.ip), "")
