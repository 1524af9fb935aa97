"""Port-forwarding to a pod through the API server, over its WebSocket port-forward protocol.

Each local connection gets its own WebSocket to ``pods/NAME/portforward?ports=REMOTE`` (subprotocol
``v4.channel.k8s.io``): channel 0 carries the data, channel 1 the errors, and the first message on each
holds the port number (2 bytes, little endian), as the kubelet serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp

from edgeplane.pki.kubeconfig import load_kubeconfig
from edgeplane.pki.tls import client_ssl_context

log = logging.getLogger(__name__)

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1
REFUSAL_WAIT = 1.0  # seconds a check waits for an error after the channels opened


class PortForwardError(Exception):
    """The API server or the edge refused the forward."""


@dataclass(frozen=True)
class PortPair:
    local: int
    remote: int

    @classmethod
    def parse(cls, text: str) -> PortPair:
        """``REMOTE``, ``LOCAL:REMOTE`` or ``:REMOTE`` (a free local port), as kubectl port-forward takes them."""
        local, _, remote = text.rpartition(":")
        try:
            pair = cls(int(local) if local else (0 if ":" in text else int(remote)), int(remote))
        except ValueError:
            raise ValueError(f"invalid port specification {text!r}: use [LOCAL:]REMOTE, e.g. 8080:80") from None
        if not 0 < pair.remote < 65536 or not 0 <= pair.local < 65536:
            raise ValueError(f"invalid port specification {text!r}: ports are numbers from 1 to 65535")
        return pair


class PortForwarder:
    def __init__(self, kubeconfig: Path, namespace: str, pod: str, *, context: str | None = None) -> None:
        cfg = load_kubeconfig(kubeconfig, context)
        self.server = cfg["server"].rstrip("/")
        ctx = client_ssl_context(cfg["ca_pem"], cfg["cert_pem"], cfg["key_pem"])
        if cfg["insecure"]:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.ssl = ctx
        self.headers = {"Authorization": f"Bearer {cfg['token']}"} if cfg["token"] else {}
        self.path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/portforward"
        self._session: aiohttp.ClientSession | None = None

    async def listen(self, pair: PortPair, address: str = "127.0.0.1",
                     on_ready: Callable[[int], None] | None = None) -> None:
        """Serves local connections on ``address:pair.local`` until cancelled."""
        self._session = aiohttp.ClientSession()
        try:
            server = await asyncio.start_server(lambda r, w: self._forward(r, w, pair.remote), address, pair.local)
            port = server.sockets[0].getsockname()[1]
            if on_ready is not None:
                on_ready(port)
            async with server:
                await server.serve_forever()
        finally:
            await self._session.close()

    async def check(self, remote: int) -> None:
        """Opens and closes one forward, so a refusal (offline node, closed port) shows at once."""
        async with aiohttp.ClientSession() as session:
            ws = await self._connect(session, remote)
            try:
                msg = await ws.receive(timeout=REFUSAL_WAIT)
            except TimeoutError:
                return  # connected: nothing came, the pod's side waits for the client to speak
            finally:
                await ws.close()
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data[:1] == bytes((ERROR,)):
                raise PortForwardError(msg.data[1:].decode(errors="replace"))

    async def _connect(self, session: aiohttp.ClientSession, remote: int) -> aiohttp.ClientWebSocketResponse:
        url = f"{self.server}{self.path}?ports={remote}"
        try:
            ws = await session.ws_connect(url, protocols=(PROTOCOL,), ssl=self.ssl, headers=self.headers,
                                          max_msg_size=0)
        except aiohttp.WSServerHandshakeError as exc:
            raise PortForwardError(await self._refusal(session, url, exc)) from None
        # Both channels open with the port number; an error right away means the edge could not connect.
        opened = 0
        while opened < 2:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise PortForwardError("the API server closed the forward before it started")
            if len(msg.data) == 3:
                opened += 1
            elif msg.data[:1] == bytes((ERROR,)):
                await ws.close()
                raise PortForwardError(msg.data[1:].decode(errors="replace"))
        return ws

    async def _refusal(self, session: aiohttp.ClientSession, url: str, exc: aiohttp.WSServerHandshakeError) -> str:
        """The server's own words for a refused upgrade: aiohttp drops the body, so ask once more without one."""
        try:
            async with session.get(url, ssl=self.ssl, headers=self.headers) as response:
                body = await response.json(content_type=None)
            return str(body.get("message") or body)
        except (aiohttp.ClientError, ValueError, AttributeError):
            return f"the API server refused the forward ({exc.status}): {exc.message}"

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: int) -> None:
        assert self._session is not None
        try:
            ws = await self._connect(self._session, remote)
        except (PortForwardError, aiohttp.ClientError, OSError) as exc:
            log.error("port-forward to %d: %s", remote, exc)
            writer.close()
            return

        async def upstream() -> None:
            while chunk := await reader.read(32 * 1024):
                await ws.send_bytes(bytes((DATA,)) + chunk)

        async def downstream() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                if msg.data[0] == DATA:
                    writer.write(msg.data[1:])
                    await writer.drain()
                elif msg.data[0] == ERROR:
                    log.error("port-forward to %d: %s", remote, msg.data[1:].decode(errors="replace"))

        up = asyncio.create_task(upstream())
        try:
            await downstream()  # ends when the pod side closes (the API server then closes the WebSocket)
        except ConnectionError:
            pass
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, aiohttp.ClientError):
                await up
            await ws.close()
            writer.close()
