"""Runs a command for ``kubectl exec`` and relays its streams over a hub stream, with or without a terminal.

The runtime says what to run (``Runtime.exec_command``: the argv, environment and working directory); this
module runs it on the host: with a pseudo-terminal for ``-t`` (resize messages set its window size, so the
process gets SIGWINCH), with pipes otherwise. The exit ends the stream with a Kubernetes Status on the
status channel: Success, or Failure with reason NonZeroExitCode and an ExitCode cause, as the kubelet sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import signal
import struct
import termios
from typing import Any

import orjson

from edgeplane.cloudhub.mux import (
    CLOSE,
    RESIZE,
    STATUS,
    STDERR,
    STDIN,
    STDOUT,
    MessageReader,
    Stream,
    channel_message,
)
from edgeplane.edge.runtimes.interface import ExecCommand

READ_SIZE = 32 * 1024


def exit_status(code: int) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "reason": "InternalError", "code": 500,
            "message": f"error executing command in container: {message}"}


def set_window_size(fd: int, payload: bytes) -> None:
    """Applies a resize message (``{"Width": cols, "Height": rows}``) to a terminal."""
    try:
        size = json.loads(payload)
        cols, rows = int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, TypeError, AttributeError):
        return
    if cols > 0 and rows > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", min(rows, 65535), min(cols, 65535), 0, 0))


async def _read_fd(fd: int) -> bytes:
    """The next bytes from a non-blocking descriptor; b"" at its end (a terminal whose peer closed gives EIO)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.read(fd, READ_SIZE)
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_reader(fd, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise


async def _write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_writer(fd, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_writer(fd)


def _controlling_terminal() -> None:  # runs in the child between fork and exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ExecSession:
    def __init__(self, command: ExecCommand, stream: Stream, *, tty: bool, stdin: bool, stdout: bool,
                 stderr: bool) -> None:
        self.command = command
        self.stream = stream
        self.tty, self.stdin, self.stdout, self.stderr = tty, stdin, stdout, stderr
        self.proc: asyncio.subprocess.Process | None = None
        self._stdin_fd: int | None = None  # where client input goes (the terminal, or the stdin pipe)
        self._window: int | None = None  # the terminal to resize

    async def run(self) -> None:
        try:
            outputs = await self._start()
        except OSError as exc:
            detail = f'exec: "{self.command.argv[0]}": {exc.strerror or exc}'
            await self.stream.write(channel_message(STATUS, orjson.dumps(failure_status(detail))))
            return
        inputs = asyncio.create_task(self._pump_input())
        try:
            await asyncio.gather(*outputs)
            assert self.proc is not None
            code = await self.proc.wait()
        finally:
            inputs.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await inputs
            self._kill()
            self._close_terminal()
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as shells report
        await self.stream.write(channel_message(STATUS, orjson.dumps(exit_status(code))))

    async def _start(self) -> list[Any]:
        cmd = self.command
        if self.tty:
            master, slave = os.openpty()
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *cmd.argv, env=cmd.env, cwd=cmd.cwd, stdin=slave, stdout=slave, stderr=slave,
                    start_new_session=True, preexec_fn=_controlling_terminal,
                )
            except OSError:
                os.close(master)
                raise
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            self._window = master
            self._stdin_fd = os.dup(master) if self.stdin else None
            return [self._pump_terminal(master)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd.argv, env=cmd.env, cwd=cmd.cwd,
            stdin=asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if self.stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE if self.stderr else asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        outputs = []
        if self.proc.stdout is not None:
            outputs.append(self._pump_reader(self.proc.stdout, STDOUT))
        if self.proc.stderr is not None:
            outputs.append(self._pump_reader(self.proc.stderr, STDERR))
        return outputs

    async def _pump_terminal(self, fd: int) -> None:
        while chunk := await _read_fd(fd):
            await self.stream.write(channel_message(STDOUT, chunk))

    def _close_terminal(self) -> None:
        for fd in (self._stdin_fd, self._window):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._stdin_fd = self._window = None

    async def _pump_reader(self, reader: asyncio.StreamReader, channel: int) -> None:
        while chunk := await reader.read(READ_SIZE):
            await self.stream.write(channel_message(channel, chunk))

    async def _pump_input(self) -> None:
        """Client input: stdin bytes, terminal resizes, and the close of stdin."""
        reader = MessageReader(self.stream)
        proc = self.proc
        assert proc is not None
        while (message := await reader.next()) is not None:
            channel, payload = message
            if channel == STDIN:
                if self._stdin_fd is not None:
                    await _write_fd(self._stdin_fd, payload)
                elif proc.stdin is not None:
                    proc.stdin.write(payload)
                    await proc.stdin.drain()
            elif channel == RESIZE and self._window is not None:
                set_window_size(self._window, payload)
            elif channel == CLOSE and payload[:1] == bytes((STDIN,)):
                self._close_stdin()
        # The client went away: the command has nobody to talk to.
        self._kill()

    def _close_stdin(self) -> None:
        proc = self.proc
        if self.tty and self._stdin_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._stdin_fd, b"\x04")  # end of input at a terminal is ^D
        elif proc is not None and proc.stdin is not None:
            proc.stdin.close()

    def _kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
