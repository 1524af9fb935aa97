"""Finds and ends the workloads that live under a directory, from outside the agent.

Pods outlive their agent by design (autonomy across agent restarts), so whatever ends them for good —
``edgeplane reset`` of a data directory, or a test session making sure it left nothing running — cannot
ask the agent. It finds them on the host by where they live instead:

- process runtime: supervisors by command line (``-m edgeplane.edge.runtimes.supervisor <root>/.../pods/
  <uid>/containers/<name>/<attempt>``) and container processes by working directory (``<root>/.../pods/<uid>/
  rootfs/<name>``), which also finds a container whose supervisor was killed;
- podman runtime: containers labelled as edgeplane's whose log file (the runtime's ``--log-opt path``) lies
  under the root.

Matching by path confines a sweep to one data directory (or one test session's temporary directory): other
nodes on the same host are left alone. Synchronous on purpose: it serves the CLI and tests, not the agent.
"""

from __future__ import annotations

import json
import marshal
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgeplane.edge.runtimes.supervisor import STATE, proc_start_time

SUPERVISOR_MODULE = "edgeplane.edge.runtimes.supervisor"
PODMAN_LABEL = "io.edgeplane"  # the podman runtime's label prefix
_POLL = 0.05
_KILL_WAIT = 5.0  # seconds SIGKILLed processes get to disappear
_PODMAN_LIMIT = 120.0


@dataclass(frozen=True, slots=True)
class HostProcess:
    """A supervisor, or a container process, of the process runtime."""

    pid: int
    started: str  # start time in clock ticks: tells this process from a later one with the same pid
    path: Path  # a supervisor's instance directory; a container process's working directory
    supervisor: bool
    group: int  # the process group that holds the container (0: none known)

    @property
    def pod_uid(self) -> str:
        return _pod_parts(self.path)[0]

    @property
    def container(self) -> str:
        return _pod_parts(self.path)[1]

    def describe(self) -> str:
        what = "supervisor" if self.supervisor else "process"
        return f"{what} {self.pid} of container {self.container} (pod uid {self.pod_uid}) in {self.path}"


@dataclass(frozen=True, slots=True)
class PodmanContainer:
    id: str
    name: str
    pod_uid: str
    pod: str  # namespace/name
    container: str
    state: str
    log_path: str

    def describe(self) -> str:
        return f"podman container {self.name} ({self.state}) of pod {self.pod}, container {self.container}"


def _pod_parts(path: Path) -> tuple[str, str]:
    """(pod uid, container name) of a path ``.../pods/<uid>/{containers,rootfs}/<name>/...``; ("", "") if not one."""
    parts = path.parts
    for i in range(len(parts) - 4, -1, -1):
        if parts[i] == "pods" and parts[i + 2] in ("containers", "rootfs"):
            return parts[i + 1], parts[i + 3]
    return "", ""


def _under(path: Path, root: Path) -> bool:
    return path.is_relative_to(root) and _pod_parts(path.relative_to(root)) != ("", "")


def _live(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


def _supervised_child(instance: Path) -> int:
    try:
        return int(marshal.loads((instance / STATE).read_bytes()).get("childPid") or 0)
    except (OSError, ValueError, EOFError, TypeError):
        return 0


def processes_under(root: Path) -> list[HostProcess]:
    """The process runtime's supervisors and container processes that belong to pods under ``root``."""
    root = root.resolve()
    own = {os.getpid(), os.getppid()}
    found: list[HostProcess] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if SUPERVISOR_MODULE.encode() in argv and len(argv) >= 2:
                arg = os.fsdecode(argv[-2] if argv[-1] == b"" else argv[-1])
                # The agent may have been given a relative data directory: resolve from the supervisor's cwd.
                instance = Path(os.path.realpath(os.path.join(os.readlink(f"/proc/{pid}/cwd"), arg)))
                if _under(instance, root):
                    found.append(HostProcess(pid, proc_start_time(pid), instance, True, _supervised_child(instance)))
                continue
            cwd = Path(os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)"))
            if _under(cwd, root):
                found.append(HostProcess(pid, proc_start_time(pid), cwd, False, os.getpgid(pid)))
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    # A supervisor's own container is signalled through the supervisor: list only the orphaned ones.
    supervised = {p.group for p in found if p.supervisor and p.group}
    return [p for p in found if p.started and _live(p.pid) and (p.supervisor or p.group not in supervised)]


def holders(path: Path) -> list[int]:
    """PIDs of the processes (other than this one) that have ``path`` open: e.g. an agent on its metastore."""
    target = os.path.realpath(path)
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) == target:
                        found.append(int(entry.name))
                        break
                except OSError:
                    continue
    return found


def _still_running(p: HostProcess) -> bool:
    return proc_start_time(p.pid) == p.started and _live(p.pid)


def _signal(p: HostProcess, signum: int) -> None:
    # A supervisor forwards SIGTERM to its container's group itself; SIGKILL is not forwarded, so the
    # group gets it directly. Never the caller's own group.
    targets: list[tuple[bool, int]] = [(False, p.pid)] if p.supervisor else []
    if p.group > 1 and p.group != os.getpgrp() and (signum == signal.SIGKILL or not p.supervisor):
        targets.append((True, p.group))
    for group, target in targets:
        try:
            if group:
                os.killpg(target, signum)
            else:
                os.kill(target, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(procs: list[HostProcess], seconds: float) -> list[HostProcess]:
    deadline = time.monotonic() + seconds
    left = [p for p in procs if _still_running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(_POLL)
        left = [p for p in left if _still_running(p)]
    return left


def end_processes(procs: list[HostProcess], grace_seconds: float) -> list[HostProcess]:
    """SIGTERM, ``grace_seconds`` to exit, then SIGKILL; returns the processes that still run after that."""
    for p in procs:
        _signal(p, signal.SIGTERM)
    left = _wait_gone(procs, grace_seconds)
    for p in left:
        _signal(p, signal.SIGKILL)
    return _wait_gone(left, _KILL_WAIT)


def podman_command(binary: str) -> list[str]:
    """podman with the global options the podman runtime uses (its containers are managed the same way)."""
    from edgeplane.edge.runtimes.podman import PodmanRuntime

    return [binary, *PodmanRuntime(Path("."), podman=binary, host_ip="-").global_args]


def _podman(podman: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*podman, *args], capture_output=True, text=True, timeout=_PODMAN_LIMIT,
                          stdin=subprocess.DEVNULL)


def podman_containers_under(root: Path, podman: list[str]) -> list[PodmanContainer]:
    """Edgeplane's podman containers whose log file lies under ``root`` (``podman`` is the command to run)."""
    root = root.resolve()
    listed = _podman(podman, "ps", "-a", "--filter", f"label={PODMAN_LABEL}.pod.uid", "--format", "json")
    if listed.returncode != 0:
        raise RuntimeError(f"podman ps failed ({listed.returncode}): {listed.stderr.strip()}")
    entries = {e["Id"]: e for e in json.loads(listed.stdout or "[]")}
    if not entries:
        return []
    # One inspect for all; a container removed meanwhile makes it fail for that one only.
    inspected = _podman(podman, "container", "inspect", "--format", "{{.Id}}\t{{.HostConfig.LogConfig.Path}}",
                        *entries)
    found: list[PodmanContainer] = []
    for line in inspected.stdout.splitlines():
        cid, _, log_path = line.partition("\t")
        entry = entries.get(cid)
        if entry is None or not log_path or not _under(Path(os.path.realpath(log_path)), root):
            continue
        labels = entry.get("Labels") or {}
        found.append(PodmanContainer(
            id=cid, name=(entry.get("Names") or [cid[:12]])[0], pod_uid=labels.get(f"{PODMAN_LABEL}.pod.uid", ""),
            pod=f"{labels.get(f'{PODMAN_LABEL}.pod.namespace', '?')}/{labels.get(f'{PODMAN_LABEL}.pod.name', '?')}",
            container=labels.get(f"{PODMAN_LABEL}.container", ""), state=str(entry.get("State", "")),
            log_path=log_path,
        ))
    return found


def remove_podman_containers(containers: list[PodmanContainer], podman: list[str], grace_seconds: float) -> None:
    """Stops (SIGTERM, then SIGKILL after ``grace_seconds``) and removes the containers."""
    if not containers:
        return
    done = _podman(podman, "rm", "--force", "--ignore", "--time", str(max(round(grace_seconds), 0)),
                   *(c.id for c in containers))
    if done.returncode != 0:
        raise RuntimeError(f"podman rm failed ({done.returncode}): {done.stderr.strip()}")
