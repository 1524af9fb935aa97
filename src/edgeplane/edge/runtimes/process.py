"""The ``process`` runtime: each container is an OS process on the host, under its own small supervisor.

Layout under the data directory::

    pods/<uid>/containers/<name>/<attempt>/spec.marshal  what to run (written here)
                                          /state.marshal how it is going (written by the supervisor)
                                          /container.log output, CRI log format, rotated to .1
    pods/<uid>/rootfs/<name>/                            the container's root: working directory and mounts

Process pods share the host's network (hostNetwork semantics, so the pod IP is the host's) and its
filesystem: a volume mount's ``mountPath`` is a symlink under the container's root directory, which is
the process's working directory (``workingDir`` is taken relative to that root too).
"""

from __future__ import annotations

import asyncio
import marshal
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import edgeplane
from edgeplane.edge import hostnet
from edgeplane.edge.runtimes.interface import (
    ContainerConfig,
    ContainerConfigError,
    ContainerState,
    ExecCommand,
    Runtime,
)
from edgeplane.edge.runtimes.supervisor import SPEC, STATE, proc_start_time

STATE_WAIT = 5.0  # seconds a new supervisor has to report its child started
POLL = 0.02
# Instances without a state file yet (a supervisor starting) are "running" for this long, then Unknown.
STARTING_GRACE = 10.0
UNKNOWN_EXIT = 255  # the exit code of an instance whose supervisor vanished (killed, host rebooted)
# Supervisors run without site (-S), so they find the package through PYTHONPATH alone.
_PACKAGE_ROOT = str(Path(edgeplane.__file__).resolve().parent.parent)


class ProcessRuntime(Runtime):
    name = "process"

    def __init__(
        self, data_dir: Path, *, host_ip: str = "", log_max_bytes: int = 10 << 20, log_files: int = 2,
        python: str = sys.executable,
    ) -> None:
        self.pods_dir = Path(data_dir) / "pods"
        self.host_ip = host_ip or hostnet.primary_ip()
        self.log_max_bytes = log_max_bytes
        self.log_files = log_files
        self.python = python

    async def version(self) -> str:
        return "process://1"

    # -- paths -------------------------------------------------------------------------------------------

    def container_dir(self, pod_uid: str, name: str) -> Path:
        return self.pods_dir / pod_uid / "containers" / name

    def _attempts(self, pod_uid: str, name: str) -> list[int]:
        try:
            entries = os.listdir(self.container_dir(pod_uid, name))
        except FileNotFoundError:
            return []
        return sorted(int(e) for e in entries if e.isdigit())

    def _instance_dir(self, pod_uid: str, name: str, attempt: int) -> Path:
        return self.container_dir(pod_uid, name) / str(attempt)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, config: ContainerConfig) -> ContainerState:
        if not config.command:
            raise ContainerConfigError(
                f"container {config.name!r} has no command: the process runtime runs the container's "
                "command and args as a host process, and cannot use an image's entrypoint"
            )
        root = self.pods_dir / config.pod_uid / "rootfs" / config.name
        cwd = _under(root, config.working_dir, "workingDir") if config.working_dir else root
        cwd.mkdir(parents=True, exist_ok=True)
        for mount in config.mounts:
            _link(_under(root, mount.container_path, "mountPath"), Path(mount.host_path))
        instance = self._instance_dir(config.pod_uid, config.name, config.attempt)
        if instance.exists():  # a start that failed half-way before: start that attempt afresh
            shutil.rmtree(instance)
        instance.mkdir(parents=True)
        spec = {
            "id": os.urandom(16).hex(),
            "image": config.image,
            "argv": config.command,
            "env": {"PATH": os.environ.get("PATH", os.defpath), "HOSTNAME": config.pod_name, **config.env},
            "cwd": str(cwd),
            "logMaxBytes": self.log_max_bytes,
            "logFiles": self.log_files,
        }
        (instance / SPEC).write_bytes(marshal.dumps(spec))
        launcher = await asyncio.create_subprocess_exec(
            self.python, "-S", "-m", "edgeplane.edge.runtimes.supervisor", str(instance),
            env={"PYTHONPATH": _PACKAGE_ROOT}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        if await launcher.wait() != 0:
            raise ContainerConfigError(f"the supervisor of container {config.name!r} failed to start",
                                       "RunContainerError")
        deadline = time.monotonic() + STATE_WAIT
        while time.monotonic() < deadline:
            state = self._read_state(config.pod_uid, config.name, config.attempt)
            if state.get("childPid") or state.get("finishedAt"):
                break
            await asyncio.sleep(POLL)
        self._forget_old_attempts(config.pod_uid, config.name, config.attempt)
        found = await self.inspect(config.pod_uid, config.name)
        assert found is not None
        return found

    async def stop(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        state = await self.inspect(pod_uid, name)
        if state is None or not state.running:
            return
        raw = self._read_state(pod_uid, name, state.attempt)
        self._signal(raw, signal.SIGTERM)
        if await self._wait_exit(pod_uid, name, state.attempt, grace_seconds):
            return
        self._signal(raw, signal.SIGKILL)
        await self._wait_exit(pod_uid, name, state.attempt, STATE_WAIT)

    def _signal(self, raw: dict, signum: int) -> None:
        target = raw.get("childPid")
        try:
            if target:
                os.killpg(int(target), signum)  # the container's whole process group
            elif raw.get("supervisorPid"):  # still starting: the supervisor forwards the signal
                os.kill(int(raw["supervisorPid"]), signum)
        except ProcessLookupError:
            pass

    async def _wait_exit(self, pod_uid: str, name: str, attempt: int, time_limit: float) -> bool:
        deadline = time.monotonic() + max(time_limit, 0.0)
        while True:
            state = self._state(pod_uid, name, attempt)
            if state is None or not state.running:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL)

    async def inspect(self, pod_uid: str, name: str) -> ContainerState | None:
        attempts = self._attempts(pod_uid, name)
        return self._state(pod_uid, name, attempts[-1]) if attempts else None

    async def previous(self, pod_uid: str, name: str) -> ContainerState | None:
        attempts = self._attempts(pod_uid, name)
        return self._state(pod_uid, name, attempts[-2]) if len(attempts) > 1 else None

    async def list(self) -> list[ContainerState]:
        out: list[ContainerState] = []
        try:
            uids = os.listdir(self.pods_dir)
        except FileNotFoundError:
            return out
        for uid in uids:
            try:
                names = os.listdir(self.pods_dir / uid / "containers")
            except FileNotFoundError:
                continue
            for name in names:
                state = await self.inspect(uid, name)
                if state is not None:
                    out.append(state)
        return out

    async def remove_pod(self, pod_uid: str) -> None:
        for state in [s for s in await self.list() if s.pod_uid == pod_uid and s.running]:
            await self.stop(pod_uid, state.name, 0)
        await asyncio.to_thread(shutil.rmtree, self.pods_dir / pod_uid, True)

    def log_paths(self, pod_uid: str, name: str) -> tuple[Path | None, Path | None]:
        attempts = self._attempts(pod_uid, name)
        paths = [self._instance_dir(pod_uid, name, a) / "container.log" for a in attempts[-2:]]
        current = paths[-1] if paths else None
        previous = paths[-2] if len(paths) == 2 else None
        return current, previous

    async def exec_probe(self, pod_uid: str, name: str, command: list[str], time_limit: float) -> tuple[int, str]:
        """Runs the command on the host with the container's environment and working directory."""
        attempts = self._attempts(pod_uid, name)
        if not attempts or not command:
            return 1, "container not found" if command else "empty probe command"
        spec = marshal.loads((self._instance_dir(pod_uid, name, attempts[-1]) / SPEC).read_bytes())
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, env=spec["env"], cwd=spec["cwd"], stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            return 126, str(exc)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), time_limit)
        except TimeoutError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.communicate()
            raise
        return proc.returncode or 0, out.decode(errors="replace")[:1024]

    async def exec_command(self, pod_uid: str, name: str, command: list[str], *, stdin: bool,
                           tty: bool) -> ExecCommand:
        """The command on the host, in the container's working directory and environment."""
        state = await self.inspect(pod_uid, name)
        if state is None or not state.running:
            raise ContainerConfigError(f"container {name} is not running")
        spec = marshal.loads((self._instance_dir(pod_uid, name, state.attempt) / SPEC).read_bytes())
        env = dict(spec["env"])
        if tty:
            env.setdefault("TERM", "xterm")
        return ExecCommand(list(command), env, spec["cwd"])

    def pod_ip(self, states: list[ContainerState]) -> str:
        return self.host_ip

    def forward_host(self, states: list[ContainerState]) -> str:
        return "127.0.0.1"  # process pods share the host's network: their ports are on its loopback too

    # -- state files -------------------------------------------------------------------------------------

    def _read_state(self, pod_uid: str, name: str, attempt: int) -> dict:
        try:
            return marshal.loads((self._instance_dir(pod_uid, name, attempt) / STATE).read_bytes())
        except (FileNotFoundError, ValueError, EOFError, TypeError):
            return {}

    def _state(self, pod_uid: str, name: str, attempt: int) -> ContainerState | None:
        instance = self._instance_dir(pod_uid, name, attempt)
        try:
            spec = marshal.loads((instance / SPEC).read_bytes())
        except (FileNotFoundError, ValueError, EOFError, TypeError):
            return None
        raw = self._read_state(pod_uid, name, attempt)
        state = ContainerState(
            pod_uid=pod_uid, name=name, id=spec["id"], attempt=attempt, running=True,
            started_at=raw.get("startedAt"), image=spec.get("image", ""), ip=self.host_ip,
        )
        if raw.get("finishedAt"):
            state.running = False
            state.finished_at = raw["finishedAt"]
            state.exit_code = raw.get("exitCode")
            state.reason = raw.get("reason", "")
            state.message = raw.get("message", "")
        elif not raw:
            age = time.time() - (instance / SPEC).stat().st_mtime
            if age > STARTING_GRACE:
                self._vanished(state, "the supervisor never started")
        elif proc_start_time(int(raw["supervisorPid"])) != raw.get("supervisorStart"):
            self._vanished(state, "the supervisor is gone (killed, or the host restarted)")
        return state

    @staticmethod
    def _vanished(state: ContainerState, why: str) -> None:
        state.running = False
        state.finished_at = state.finished_at or time.time()
        state.exit_code = UNKNOWN_EXIT
        state.reason = "Unknown"
        state.message = why

    def _forget_old_attempts(self, pod_uid: str, name: str, current: int) -> None:
        for attempt in self._attempts(pod_uid, name):
            if attempt < current - 1:
                shutil.rmtree(self._instance_dir(pod_uid, name, attempt), ignore_errors=True)


def _under(root: Path, container_path: str, what: str) -> Path:
    """A container path mapped under the container's root; ``..`` may not climb out of it."""
    target = Path(os.path.normpath(root / container_path.lstrip("/")))
    if target != root and root not in target.parents:
        raise ContainerConfigError(f"{what} {container_path!r} leaves the container's root directory")
    return target


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        raise ContainerConfigError(f"mountPath {str(link)!r} is already used by another mount or file")
    link.symlink_to(target)
