"""The edge's side of logs, exec, attach and port-forward: serves the streams the cloud opens over the hub.

Every request names the pod by namespace, name and uid; the pod must be one this node holds in its
metastore, so the cloud can reach nothing else on the host. A request that cannot be served is refused
with a Kubernetes Status before any data flows, which the API server hands to the client as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from edgeplane.cloudhub.mux import (
    STATUS,
    STDERR,
    STDOUT,
    MessageReader,
    Stream,
    StreamClosed,
    channel_message,
    status,
)
from edgeplane.edge.exec import ExecSession, exit_status
from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.podlogs import LogOptions, stream_log
from edgeplane.edge.runtimes.interface import ContainerConfigError, Runtime

log = logging.getLogger(__name__)

_CHANNEL = {b"stdout": STDOUT, b"stderr": STDERR}


class Refused(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status(code, reason, message)


def _bad(message: str) -> Refused:
    return Refused(400, "BadRequest", message)


class StreamServer:
    def __init__(self, metastore: MetaStore, runtime: Runtime) -> None:
        self.metastore = metastore
        self.runtime = runtime
        self._handlers = {"log": self._log, "exec": self._exec, "attach": self._attach,
                          "portforward": self._portforward}

    async def serve(self, stream: Stream) -> None:
        handler = self._handlers.get(stream.kind)
        try:
            if handler is None:
                raise _bad(f"unknown stream kind {stream.kind!r}")
            await handler(stream, stream.params)
        except Refused as exc:
            await stream.close(exc.status)

    # -- what a request names ------------------------------------------------------------------------

    def _pod(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace, name, uid = params.get("namespace", ""), params.get("name", ""), params.get("uid", "")
        pod = self.metastore.get("pods", namespace, name)
        if pod is None or (uid and pod["metadata"].get("uid") != uid):
            raise Refused(404, "NotFound", f'pods "{name}" not found on this node')
        return pod

    def _container(self, pod: dict[str, Any], params: dict[str, Any]) -> str:
        container = str(params.get("container") or "")
        spec = pod.get("spec") or {}
        names = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
        if container not in names:
            raise _bad(f'container {container} is not valid for pod {pod["metadata"]["name"]}')
        return container

    # -- logs ----------------------------------------------------------------------------------------

    async def _log(self, stream: Stream, params: dict[str, Any]) -> None:
        pod = self._pod(params)
        container = self._container(pod, params)
        uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
        current, previous = self.runtime.log_paths(uid, container)
        path = previous if params.get("previous") else current
        if path is None or not path.exists():
            if params.get("previous"):
                raise _bad(f'previous terminated container "{container}" in pod "{name}" not found')
            raise _bad(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        since = params.get("sinceTime")
        if params.get("sinceSeconds"):
            since = time.time() - float(params["sinceSeconds"])
        options = LogOptions(follow=bool(params.get("follow")), tail_lines=params.get("tailLines"),
                             since=since, timestamps=bool(params.get("timestamps")),
                             limit_bytes=params.get("limitBytes"))
        await stream.mux.accept(stream)

        async def emit(pieces: list[tuple[bytes, bytes]]) -> None:
            await stream.write(b"".join(text for _, text in pieces))

        async def still_running() -> bool:
            if params.get("previous") or self.runtime.log_paths(uid, container)[0] != path:
                return False
            state = await self.runtime.inspect(uid, container)
            return state is not None and state.running

        await stream_log(path, options, emit, still_running, lambda: stream.peer_done)

    # -- exec and attach -----------------------------------------------------------------------------

    async def _exec(self, stream: Stream, params: dict[str, Any]) -> None:
        pod = self._pod(params)
        container = self._container(pod, params)
        command = params.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise _bad("you must specify at least one command for the container")
        try:
            exec_command = await self.runtime.exec_command(
                pod["metadata"]["uid"], container, command, stdin=bool(params.get("stdin")),
                tty=bool(params.get("tty")))
        except ContainerConfigError as exc:
            raise _bad(f'unable to upgrade connection: {exc.message}') from None
        await stream.mux.accept(stream)
        await ExecSession(exec_command, stream, tty=bool(params.get("tty")), stdin=bool(params.get("stdin")),
                          stdout=bool(params.get("stdout", True)), stderr=bool(params.get("stderr"))).run()

    async def _attach(self, stream: Stream, params: dict[str, Any]) -> None:
        """The container's output from now on, until it exits (its stdin is not connected: see the docs)."""
        pod = self._pod(params)
        container = self._container(pod, params)
        uid = pod["metadata"]["uid"]
        state = await self.runtime.inspect(uid, container)
        path = self.runtime.log_paths(uid, container)[0]
        if state is None or not state.running or path is None:
            raise _bad(f"container {container} is not running")
        wanted = {b"stdout"} if params.get("stdout", True) else set()
        if params.get("stderr") or params.get("tty"):
            wanted.add(b"stderr")
        await stream.mux.accept(stream)

        async def emit(pieces: list[tuple[bytes, bytes]]) -> None:
            for source, text in pieces:
                await stream.write(channel_message(STDOUT if params.get("tty") else _CHANNEL[source], text))

        async def still_running() -> bool:
            now = await self.runtime.inspect(uid, container)
            return now is not None and now.running and now.attempt == state.attempt

        discard = asyncio.create_task(_drain(stream))  # input is not delivered; keep credit flowing
        try:
            await stream_log(path, LogOptions(follow=True, streams=frozenset(wanted)), emit, still_running,
                             lambda: stream.peer_done, from_end=True)
        finally:
            discard.cancel()
        await stream.write(channel_message(STATUS, orjson.dumps(exit_status(0))))

    # -- port-forward --------------------------------------------------------------------------------

    async def _portforward(self, stream: Stream, params: dict[str, Any]) -> None:
        pod = self._pod(params)
        port = params.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise _bad(f"invalid port {port!r}: it must be a number from 1 to 65535")
        uid = pod["metadata"]["uid"]
        states = [s for s in await self.runtime.list() if s.pod_uid == uid]
        host = self.runtime.forward_host(states)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10.0)
        except (OSError, TimeoutError) as exc:
            raise Refused(500, "InternalError", f'error forwarding port {port} to pod {pod["metadata"]["name"]}, '
                                                f"uid {uid}: dial tcp {host}:{port}: {exc}") from None
        await stream.mux.accept(stream)
        try:
            await asyncio.gather(_socket_to_stream(reader, stream), _stream_to_socket(stream, writer))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _drain(stream: Stream) -> None:
    reader = MessageReader(stream)
    while await reader.next() is not None:
        pass


async def _socket_to_stream(reader: asyncio.StreamReader, stream: Stream) -> None:
    try:
        while chunk := await reader.read(32 * 1024):
            await stream.write(chunk)
    except (ConnectionError, StreamClosed):
        pass
    await stream.close()


async def _stream_to_socket(stream: Stream, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await stream.read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError:
        pass
