"""What the pod manager asks of a container runtime, and the shapes it gets back.

The pod manager resolves everything a container needs (env values, volume directories, working directory,
ports) into a ``ContainerConfig`` before it calls a runtime, so runtimes never read the metastore. A runtime
keeps enough on disk to answer ``inspect``/``list`` after the agent restarts: containers outlive the agent
and are adopted again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path


class ContainerConfigError(Exception):
    """The container cannot be started as specified; ``reason`` is the Kubernetes waiting reason."""

    def __init__(self, message: str, reason: str = "CreateContainerConfigError") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class ImageError(ContainerConfigError):
    """The image is not available (not present and not pullable)."""

    def __init__(self, message: str, reason: str = "ErrImagePull") -> None:
        super().__init__(message, reason)


@dataclass(frozen=True, slots=True)
class Mount:
    host_path: str  # a directory or file on the host (materialised volume or hostPath)
    container_path: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class PortMapping:
    container_port: int
    host_port: int = 0  # 0: not published
    protocol: str = "TCP"


@dataclass(slots=True)
class ContainerConfig:
    """One container of one pod, fully resolved, for one start (``attempt`` 0 is the first run)."""

    pod_uid: str
    pod_namespace: str
    pod_name: str
    name: str
    image: str
    command: list[str]  # the effective argv: container command + args (may be empty for image defaults)
    env: dict[str, str]
    attempt: int = 0
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)
    image_pull_policy: str = "IfNotPresent"
    host_network: bool = False
    entrypoint_override: bool = False  # True when the pod set ``command`` (replaces the image's entrypoint)


@dataclass(frozen=True, slots=True)
class ExecCommand:
    """What to run on the host for ``kubectl exec`` in a container."""

    argv: list[str]
    env: dict[str, str] | None = None  # None: the agent's own
    cwd: str | None = None


@dataclass(slots=True)
class ContainerState:
    """The latest instance of a container as the runtime knows it (times are Unix seconds)."""

    pod_uid: str
    name: str
    id: str  # runtime-specific; the pod status shows ``<runtime>://<id>``
    attempt: int
    running: bool
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""  # Completed, Error, OOMKilled, StartError, Unknown
    message: str = ""
    image: str = ""
    image_id: str = ""
    ip: str = ""  # the container's own IP when it has one (podman bridge networking)

    @property
    def exited(self) -> bool:
        return not self.running


class Runtime(abc.ABC):
    """A container runtime as the pod manager drives it. Every method is safe to call repeatedly."""

    name: str  # "process" | "podman": the containerID scheme

    @abc.abstractmethod
    async def version(self) -> str:
        """The runtime version as nodeInfo.containerRuntimeVersion shows it (``process://1``)."""

    @abc.abstractmethod
    async def start(self, config: ContainerConfig) -> ContainerState:
        """Starts a new instance of the container (the previous one must have exited).

        Raises ContainerConfigError (or ImageError) when it cannot be started as specified.
        """

    @abc.abstractmethod
    async def stop(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds``; returns once the container has exited."""

    @abc.abstractmethod
    async def inspect(self, pod_uid: str, name: str) -> ContainerState | None:
        """The latest instance of the container, or None if it never ran here."""

    @abc.abstractmethod
    async def previous(self, pod_uid: str, name: str) -> ContainerState | None:
        """The instance before the latest one (for ``lastState``), or None."""

    @abc.abstractmethod
    async def list(self) -> list[ContainerState]:
        """The latest instance of every container the runtime holds (for adoption after a restart)."""

    @abc.abstractmethod
    async def remove_pod(self, pod_uid: str) -> None:
        """Removes every trace of a pod whose containers have all stopped."""

    @abc.abstractmethod
    def log_paths(self, pod_uid: str, name: str) -> tuple[Path | None, Path | None]:
        """(current, previous) instance log files, for ``kubectl logs`` and ``kubectl logs --previous``."""

    @abc.abstractmethod
    async def exec_command(self, pod_uid: str, name: str, command: list[str], *, stdin: bool,
                           tty: bool) -> ExecCommand:
        """The host command that runs ``command`` in the running container (``kubectl exec``).

        Raises ContainerConfigError when the container is not running.
        """

    def forward_host(self, states: list[ContainerState]) -> str:
        """Where a port-forward to the pod connects (a pod's ports are on its IP)."""
        return self.pod_ip(states)

    async def exec_probe(self, pod_uid: str, name: str, command: list[str], time_limit: float) -> tuple[int, str]:
        """Runs a probe command in the container's context: (exit code, output). Timeout -> TimeoutError."""
        raise NotImplementedError(f"exec probes are not supported by the {self.name} runtime")

    def pod_ip(self, states: list[ContainerState]) -> str:
        """The pod's IP given its containers' states (process pods share the host's network)."""
        return next((s.ip for s in states if s.ip), "")
