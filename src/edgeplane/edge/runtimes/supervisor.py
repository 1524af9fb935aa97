"""The supervisor of one process-runtime container instance: ``python -S -m edgeplane.edge.runtimes.supervisor DIR``.

It detaches from the agent (fork, setsid) so the container survives agent restarts, runs ``DIR/spec.marshal``'s
argv with its env and working directory in a process group of its own, writes stdout/stderr to
``DIR/container.log`` in the CRI log format (``<RFC3339Nano> stdout|stderr F|P <text>``) with size-based
rotation, and records the instance's life in ``DIR/state.marshal`` (replaced atomically), which the agent reads
to know the container's state and to adopt it again after a restart.

It imports only what it must (no asyncio, no subprocess, no json) and runs without site-packages (-S):
one of these runs per container.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import sys
import time

# Spec and state are marshal files: the format needs no import (json would cost every supervisor ~1 MiB),
# and the agent and its supervisors run the same interpreter.
SPEC, STATE = "spec.marshal", "state.marshal"
PARTIAL_LINE_LIMIT = 16 * 1024  # a line longer than this is written as partial ("P") chunks
EXEC_FAILED = 128  # exit code recorded when the command could not be started (as runc reports it)


def proc_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); "" if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses; fields after it follow the last ')'.
    return stat[stat.rindex(b")") + 2 :].split()[19].decode()


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e9):09d}Z"


class RotatingLog:
    """The instance's log file; beyond ``max_bytes`` it moves to ``.1`` ... ``.N-1`` and starts again."""

    def __init__(self, path: str, max_bytes: int, files: int) -> None:
        self.path, self.max_bytes, self.files = path, max_bytes, max(files, 1)
        self.f = open(path, "ab", buffering=0)  # noqa: SIM115 - held for the instance's life
        self.size = self.f.tell()

    def write(self, stream: bytes, tag: bytes, text: bytes) -> None:
        line = b"%s %s %s %s\n" % (rfc3339(time.time()).encode(), stream, tag, text)
        if self.size and self.size + len(line) > self.max_bytes:
            self.rotate()
        self.f.write(line)
        self.size += len(line)

    def rotate(self) -> None:
        self.f.close()
        for i in range(self.files - 1, 0, -1):
            source = self.path if i == 1 else f"{self.path}.{i - 1}"
            if os.path.exists(source):
                os.replace(source, f"{self.path}.{i}")
        if self.files == 1:
            os.truncate(self.path, 0)
        self.f = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self.size = 0


class Supervisor:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        with open(os.path.join(directory, SPEC), "rb") as f:
            self.spec = marshal.load(f)
        self.state: dict[str, object] = {
            "supervisorPid": os.getpid(),
            "supervisorStart": proc_start_time(os.getpid()),
        }
        self.child = 0

    def write_state(self, **changes: object) -> None:
        self.state.update(changes)
        tmp = os.path.join(self.dir, STATE + ".tmp")
        with open(tmp, "wb") as f:
            marshal.dump(self.state, f)
        os.replace(tmp, os.path.join(self.dir, STATE))

    def run(self) -> None:
        spec = self.spec
        log = RotatingLog(
            os.path.join(self.dir, "container.log"), int(spec.get("logMaxBytes", 10 << 20)),
            int(spec.get("logFiles", 2)),
        )
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        exec_r, exec_w = os.pipe2(os.O_CLOEXEC)
        started = time.time()
        pid = os.fork()
        if pid == 0:  # the container's process
            try:
                os.setpgid(0, 0)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_DFL)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.chdir(spec["cwd"])
                os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
            except BaseException as exc:  # report any failure to the supervisor, then exit
                os.write(exec_w, f"{type(exc).__name__}: {exc}".encode(errors="replace"))
            os._exit(127)
        self.child = pid
        for fd in (out_w, err_w, exec_w):
            os.close(fd)
        failure = b""
        while chunk := os.read(exec_r, 4096):
            failure += chunk
        os.close(exec_r)
        if failure:
            os.waitpid(pid, 0)
            message = failure.decode(errors="replace")
            log.write(b"stderr", b"F", message.encode())
            self.write_state(startedAt=started, finishedAt=time.time(), exitCode=EXEC_FAILED,
                             reason="StartError", message=message)
            return
        self.write_state(childPid=pid, startedAt=started)
        status = self.pump(log, {out_r: b"stdout", err_r: b"stderr"})
        code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        self.write_state(finishedAt=time.time(), exitCode=code, reason="Completed" if code == 0 else "Error")

    def pump(self, log: RotatingLog, streams: dict[int, bytes]) -> int:
        """Copies output to the log until the child has exited and its pipes are drained; its wait status."""
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        partial = {fd: b"" for fd in streams}
        status: int | None = None
        drain_until = 0.0
        while streams:
            if status is None:
                done, status = os.waitpid(self.child, os.WNOHANG)
                if done:
                    # Descendants may keep the pipes open: read what is there, then stop.
                    drain_until = time.monotonic() + 0.2
                else:
                    status = None
            elif time.monotonic() > drain_until:
                break
            for fd, _ in poller.poll(100 if status is None else 20):
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    if partial[fd]:
                        log.write(streams[fd], b"F", partial[fd])
                    del streams[fd], partial[fd]
                    continue
                lines = (partial[fd] + chunk).split(b"\n")
                partial[fd] = lines.pop()
                for line in lines:
                    log.write(streams[fd], b"F", line)
                while len(partial[fd]) > PARTIAL_LINE_LIMIT:
                    log.write(streams[fd], b"P", partial[fd][:PARTIAL_LINE_LIMIT])
                    partial[fd] = partial[fd][PARTIAL_LINE_LIMIT:]
        for fd, rest in partial.items():
            if rest:
                log.write(streams[fd], b"F", rest)
        if status is None:
            _, status = os.waitpid(self.child, 0)
        return status

    def forward(self, signum: int, _frame: object) -> None:
        if self.child:
            try:
                os.killpg(self.child, signum)
            except ProcessLookupError:
                pass


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -S -m edgeplane.edge.runtimes.supervisor INSTANCE_DIR\n")
        return 2
    if os.fork() > 0:  # the agent waits for this parent only; the supervisor carries on detached
        return 0
    os.setsid()
    supervisor = Supervisor(argv[1])
    signal.signal(signal.SIGTERM, supervisor.forward)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    try:
        supervisor.run()
    except Exception as exc:  # the state file must always say how the instance ended
        supervisor.write_state(finishedAt=time.time(), exitCode=EXEC_FAILED, reason="StartError",
                               message=f"supervisor: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
