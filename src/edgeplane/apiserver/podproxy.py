"""pods/log, pods/exec, pods/attach and pods/portforward: requests relayed to the pod's edge node.

The API server checks what it can alone (authorization, the pod, its container, the options, whether the
node is connected) and then opens a stream to the node through the tunnel, which alone knows the route.

- log: a plain-text HTTP response, streamed as the edge reads the file (``follow`` keeps it open).
- exec and attach: WebSocket with Kubernetes' channel protocol, ``v5.channel.k8s.io`` (kubectl 1.29+) or
  ``v4.channel.k8s.io`` (the Python client): one binary message per chunk, its first byte the channel
  (stdin 0, stdout 1, stderr 2, status 3, resize 4; v5 adds 255, "close this channel").
- portforward: WebSocket ``v4.channel.k8s.io`` as the kubelet serves it: per requested port a data and an
  error channel (2i, 2i+1), each opened by a message holding the port (2 bytes, little endian).
  SPDY, and kubectl's SPDY-over-WebSocket tunnel, are not spoken: ``edgeplane port-forward`` does the job.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from edgeplane.api import errors
from edgeplane.apiserver.auth import USER, Authorizer, RequestAttributes, UserInfo
from edgeplane.apiserver.context import APIContext
from edgeplane.cloudhub.mux import CLOSE, STATUS, MessageReader, Stream, StreamClosed, channel_message
from edgeplane.cloudhub.tunnel import NodeOffline, Tunnel

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD_PROTOCOLS = ("v4.channel.k8s.io",)
_POD_PATH = "/api/v1/namespaces/{namespace}/pods/{name}/"
_TRUE = ("true", "1", "True", "TRUE")
_FALSE = ("false", "0", "False", "FALSE", "")
CLIENT_CHECK = 0.5  # seconds between looks at whether a log client is still connected


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'{name}: invalid value "{value}": must be true or false')


def _int(request: web.Request, name: str, minimum: int) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f'{name}: invalid value "{value}": must be an integer') from None
    if number < minimum:
        raise errors.bad_request(f"{name}: invalid value {number}: must be greater than or equal to {minimum}")
    return number


def _since_time(request: web.Request) -> float | None:
    value = request.query.get("sinceTime")
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise errors.bad_request(f'sinceTime: invalid value "{value}": must be an RFC 3339 time, '
                                 "e.g. 2024-01-02T15:04:05Z") from None


def _websocket_requested(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class PodProxy:
    def __init__(self, ctx: APIContext, authorizer: Authorizer, tunnel: Tunnel) -> None:
        self.ctx = ctx
        self.authorizer = authorizer
        self.tunnel = tunnel

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path, handler) rows for ``APIServer.extra_routes``."""
        return [("GET", _POD_PATH + "log", self.log),
                ("*", _POD_PATH + "exec", self.exec),
                ("*", _POD_PATH + "attach", self.attach),
                ("*", _POD_PATH + "portforward", self.portforward)]

    # -- what every request checks -------------------------------------------------------------------

    async def _pod(self, request: web.Request, subresource: str, verb: str) -> dict[str, Any]:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        user: UserInfo = request[USER]
        attrs = RequestAttributes(verb=verb, resource="pods", subresource=subresource, namespace=namespace,
                                  name=name, path=request.path)
        allowed, _ = await self.authorizer.authorize_async(user, attrs)
        if not allowed:
            raise errors.forbidden_request(user.name, verb, f"pods/{subresource}", "", name, namespace)
        return await self.ctx.storage(self.ctx.resource("", "v1", "pods")).get(namespace, name)

    @staticmethod
    def _container(pod: dict[str, Any], requested: str) -> str:
        spec = pod.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or []]
        every = [c["name"] for c in spec.get("initContainers") or []] + names
        name = pod["metadata"]["name"]
        if requested:
            if requested not in every:
                raise errors.bad_request(f"container {requested} is not valid for pod {name}")
            return requested
        default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if default in names:
            return default
        if len(names) == 1:
            return names[0]
        raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                 f"choose one of: [{' '.join(names)}]")

    @staticmethod
    def _node(pod: dict[str, Any]) -> str:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise errors.bad_request(f'pod "{pod["metadata"]["name"]}" is not scheduled to a node yet')
        return node

    def _target(self, pod: dict[str, Any]) -> dict[str, Any]:
        m = pod["metadata"]
        return {"namespace": m["namespace"], "name": m["name"], "uid": m.get("uid", "")}

    async def _require_connected(self, node: str) -> None:
        if not self.tunnel.connected(node):
            raise NodeOffline(node, await self.tunnel.offline_since(node))

    # -- log -----------------------------------------------------------------------------------------

    async def log(self, request: web.Request) -> web.StreamResponse:
        pod = await self._pod(request, "log", "get")
        container = self._container(pod, request.query.get("container", ""))
        since_seconds = _int(request, "sinceSeconds", 1)
        since_time = _since_time(request)
        if since_seconds is not None and since_time is not None:
            raise errors.bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
        params = {**self._target(pod), "container": container, "follow": _flag(request, "follow"),
                  "previous": _flag(request, "previous"), "timestamps": _flag(request, "timestamps"),
                  "tailLines": _int(request, "tailLines", 0), "limitBytes": _int(request, "limitBytes", 1),
                  "sinceSeconds": since_seconds, "sinceTime": since_time}
        stream = await self.tunnel.open(self._node(pod), "log", params)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        watcher = asyncio.create_task(_close_when_client_leaves(request, stream))
        try:
            await response.prepare(request)
            while chunk := await stream.read():
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client left
        finally:
            watcher.cancel()
            await stream.close()
        return response

    # -- exec and attach -----------------------------------------------------------------------------

    async def exec(self, request: web.Request) -> web.StreamResponse:
        return await self._channels(request, "exec")

    async def attach(self, request: web.Request) -> web.StreamResponse:
        return await self._channels(request, "attach")

    async def _channels(self, request: web.Request, kind: str) -> web.StreamResponse:
        pod = await self._pod(request, kind, "create")
        container = self._container(pod, request.query.get("container", ""))
        opts = {"stdin": _flag(request, "stdin"), "stdout": _flag(request, "stdout", True),
                "stderr": _flag(request, "stderr", kind == "exec"), "tty": _flag(request, "tty")}
        if not any((opts["stdin"], opts["stdout"], opts["stderr"])):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        command = request.query.getall("command", [])
        if kind == "exec" and not command:
            raise errors.bad_request("you must specify at least one command for the container")
        node = self._node(pod)
        await self._require_connected(node)
        ws = self._websocket(request, CHANNEL_PROTOCOLS)
        params = {**self._target(pod), "container": container, "command": command, **opts}
        stream = await self.tunnel.open(node, kind, params)
        try:
            await ws.prepare(request)
            await _relay_channels(ws, stream, v5=ws.ws_protocol == CHANNEL_PROTOCOLS[0])
        finally:
            await stream.close()
        return ws

    @staticmethod
    def _websocket(request: web.Request, protocols: tuple[str, ...]) -> web.WebSocketResponse:
        """The WebSocket answer, or a clear refusal (kubectl then tries SPDY, which gets the same refusal)."""
        ws = web.WebSocketResponse(protocols=protocols, max_msg_size=4 * 1024 * 1024, heartbeat=30.0)
        ready = ws.can_prepare(request) if _websocket_requested(request) else None
        if ready is None or not ready.ok or ready.protocol is None:
            offered = request.headers.get("Sec-WebSocket-Protocol") or request.headers.get("Upgrade") or "none"
            raise errors.bad_request(
                f"edgeplane serves this over WebSocket with subprotocol {' or '.join(protocols)}; the request "
                f"offered {offered} (SPDY is not supported; for port-forward use `edgeplane port-forward`)")
        return ws

    # -- port-forward --------------------------------------------------------------------------------

    async def portforward(self, request: web.Request) -> web.StreamResponse:
        pod = await self._pod(request, "portforward", "create")
        node = self._node(pod)
        await self._require_connected(node)
        ws = self._websocket(request, PORTFORWARD_PROTOCOLS)  # SPDY clients name their ports later: refuse first
        ports: list[int] = []
        for raw in ",".join(request.query.getall("ports", [])).split(","):
            if not raw.strip():
                continue
            try:
                port = int(raw)
            except ValueError:
                raise errors.bad_request(f'ports: invalid port "{raw}": must be a number') from None
            if not 0 < port < 65536:
                raise errors.bad_request(f"ports: invalid port {port}: must be from 1 to 65535")
            ports.append(port)
        if not ports:
            raise errors.bad_request("ports: at least one port is required, e.g. ?ports=8080")
        await ws.prepare(request)
        streams: list[Stream | None] = []
        try:
            # Connect first, so a refusal follows the channels' opening messages at once.
            failures: dict[int, str] = {}
            for i, port in enumerate(ports):
                try:
                    streams.append(await self.tunnel.open(node, "portforward", {**self._target(pod), "port": port}))
                except errors.APIError as exc:
                    streams.append(None)
                    failures[i] = exc.message
            for i, port in enumerate(ports):
                prefix = port.to_bytes(2, "little")
                await ws.send_bytes(bytes((2 * i,)) + prefix)
                await ws.send_bytes(bytes((2 * i + 1,)) + prefix)
                if i in failures:
                    await ws.send_bytes(bytes((2 * i + 1,)) + failures[i].encode())
            await _relay_ports(ws, streams)
        finally:
            for stream in streams:
                if stream is not None:
                    await stream.close()
        return ws


async def _close_when_client_leaves(request: web.Request, stream: Stream) -> None:
    """An idle followed log has no write to fail: notice a client that went away and end the stream."""
    while not stream.peer_done:
        await asyncio.sleep(CLIENT_CHECK)
        transport = request.transport
        if transport is None or transport.is_closing():
            await stream.close()
            stream.abandon()
            return


async def _relay_channels(ws: web.WebSocketResponse, stream: Stream, v5: bool) -> None:
    """Client messages to the edge and the edge's back, until the edge ends (with its status) or the client."""
    async def from_client() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                data = msg.data
            elif msg.type == WSMsgType.TEXT:
                data = msg.data.encode()
            else:
                continue
            if not data or (data[0] == CLOSE and not v5):
                continue
            await stream.write(channel_message(data[0], data[1:]))
        await stream.close()  # the client left: the edge ends the command

    async def to_client() -> None:
        reader = MessageReader(stream)
        while (message := await reader.next()) is not None:
            channel, payload = message
            await ws.send_bytes(bytes((channel,)) + payload)
        if stream.error is not None:
            await ws.send_bytes(bytes((STATUS,)) + _status_json(stream.error))

    client = asyncio.create_task(from_client())
    try:
        await to_client()
    except ConnectionError:
        pass
    finally:
        client.cancel()
        with contextlib.suppress(asyncio.CancelledError, StreamClosed, ConnectionError):
            await client
        await ws.close()


async def _relay_ports(ws: web.WebSocketResponse, streams: list[Stream | None]) -> None:
    async def from_client() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            index, rest = divmod(msg.data[0], 2)
            stream = streams[index] if index < len(streams) else None
            if stream is not None and rest == 0:
                with contextlib.suppress(StreamClosed):
                    await stream.write(msg.data[1:])
        for stream in streams:
            if stream is not None:
                await stream.close()

    async def to_client(index: int, stream: Stream) -> None:
        while chunk := await stream.read():
            await ws.send_bytes(bytes((2 * index,)) + chunk)
        if stream.error is not None:
            await ws.send_bytes(bytes((2 * index + 1,)) + str(stream.error.get("message", "")).encode())

    client = asyncio.create_task(from_client())
    try:
        await asyncio.gather(*(to_client(i, s) for i, s in enumerate(streams) if s is not None))
    except ConnectionError:
        pass
    finally:
        client.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await client
        await ws.close()


def _status_json(status: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in status.items() if k not in ("kind", "apiVersion")})
