"""The edge's WebSocket client against a real aiohttp WebSocket server (what the cloud hub runs on), and
against a raw server for what aiohttp cannot send (fragmented messages)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from edgeplane.edge.wire import websocket
from edgeplane.edge.wire.errors import HandshakeRefused, WireError
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context
from tests.integration.netproxy import TCPProxy

WSHandler = Callable[[web.WebSocketResponse], Awaitable[None]]


class Server:
    """An aiohttp server whose /ws endpoint runs the test's handler; what the handler saw is kept."""

    def __init__(self) -> None:
        self.handler: WSHandler | None = None
        self.closed_with: asyncio.Future[int | None] | None = None
        self.port = 0

    async def ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=64 * 1024 * 1024)
        await ws.prepare(request)
        assert self.handler is not None
        await self.handler(ws)
        assert self.closed_with is not None
        if not self.closed_with.done():
            self.closed_with.set_result(ws.close_code)
        return ws

    def url(self, host: str = "127.0.0.1", scheme: str = "ws") -> str:
        return f"{scheme}://{host}:{self.port}/ws"


async def _start(app: web.Application, host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    s.closed_with = asyncio.get_running_loop().create_future()

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                                  "reason": "Forbidden", "message": "certificate of node n1 is revoked"},
                                 status=403)

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="no websocket here", status=400)

    app = web.Application()
    app.router.add_get("/ws", s.ws)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/plain", plain)
    runner, s.port = await _start(app)
    yield s
    await runner.cleanup()


async def _echo(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)


async def test_messages_both_ways_and_a_clean_close(server: Server) -> None:
    server.handler = _echo
    ws = await websocket.connect(server.url(), max_size=8 * 1024 * 1024)
    await ws.send_bytes(b"\x01binary")
    assert await ws.receive() == b"\x01binary"
    big = os.urandom(5 * 1024 * 1024 + 3)  # masked by the client, unmasked by aiohttp: must match exactly
    await ws.send_bytes(big)
    assert await asyncio.wait_for(ws.receive(), 10) == big
    await ws.close()
    assert ws.closed and ws.close_code == 1000
    assert await asyncio.wait_for(server.closed_with, 5) == 1000  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError):
        await ws.send_bytes(b"after close")


async def test_text_messages_arrive_as_text(server: Server) -> None:
    async def greet(ws: web.WebSocketResponse) -> None:
        await ws.send_str("grüße")
        await ws.receive()

    server.handler = greet
    ws = await websocket.connect(server.url())
    assert await ws.receive() == "grüße"
    await ws.close()


async def test_pings_are_answered(server: Server) -> None:
    pongs: list[bytes] = []

    async def ping(ws: web.WebSocketResponse) -> None:
        for payload in (b"one", b"two"):
            await ws.ping(payload)
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.PONG
            pongs.append(msg.data)
        await ws.send_bytes(b"done")
        await ws.receive()

    server.handler = ping
    ws = await websocket.connect(server.url())
    assert await asyncio.wait_for(ws.receive(), 5) == b"done"
    assert pongs == [b"one", b"two"]
    await ws.close()


async def test_the_peers_close_code_is_kept(server: Server) -> None:
    async def replace(ws: web.WebSocketResponse) -> None:
        await ws.close(code=4000, message=b"replaced by a newer connection of this node")

    server.handler = replace
    ws = await websocket.connect(server.url())
    assert await asyncio.wait_for(ws.receive(), 5) is None
    assert ws.close_code == 4000


async def test_a_lost_connection_is_1006(server: Server) -> None:
    async def drop(ws: web.WebSocketResponse) -> None:
        await ws.send_bytes(b"last words")
        await asyncio.sleep(0.05)
        ws._req.transport.abort()  # type: ignore[union-attr]  # gone without a close frame

    server.handler = drop
    ws = await websocket.connect(server.url())
    assert await asyncio.wait_for(ws.receive(), 5) == b"last words"
    assert await asyncio.wait_for(ws.receive(), 5) is None
    assert ws.close_code == 1006


async def test_an_oversize_message_ends_the_connection_with_1009(server: Server) -> None:
    async def flood(ws: web.WebSocketResponse) -> None:
        await ws.send_bytes(b"x" * 1000)
        await ws.send_bytes(b"y" * 1001)
        await ws.receive()

    server.handler = flood
    ws = await websocket.connect(server.url(), max_size=1000)
    assert await ws.receive() == b"x" * 1000
    with pytest.raises(WireError, match="1009"):
        await asyncio.wait_for(ws.receive(), 5)
    assert ws.close_code == 1009
    assert await asyncio.wait_for(server.closed_with, 5) == 1009  # type: ignore[arg-type]


async def test_a_refused_handshake_carries_status_and_message(server: Server) -> None:
    with pytest.raises(HandshakeRefused) as refused:
        await websocket.connect(f"ws://127.0.0.1:{server.port}/refuse")
    assert refused.value.status == 403
    assert "HTTP 403" in str(refused.value) and "certificate of node n1 is revoked" in str(refused.value)
    with pytest.raises(HandshakeRefused, match="HTTP 400: no websocket here"):
        await websocket.connect(f"ws://127.0.0.1:{server.port}/plain")


async def test_the_heartbeat_gives_up_a_silent_link(server: Server) -> None:
    server.handler = _echo
    proxy = TCPProxy("127.0.0.1", server.port).start()
    try:
        ws = await websocket.connect(f"ws://127.0.0.1:{proxy.port}/ws", heartbeat=0.3)
        idle = asyncio.create_task(ws.receive())
        await asyncio.sleep(1.0)  # idle for several heartbeats: pongs keep it open
        assert not idle.done() and ws.close_code is None
        proxy.cut(blackhole=True)  # bytes vanish both ways; TCP itself notices nothing
        started = time.monotonic()
        assert await asyncio.wait_for(idle, 3) is None
        assert ws.close_code == 1006
        assert time.monotonic() - started < 0.3 + 0.15 + 0.5
    finally:
        proxy.stop()


async def test_sending_waits_while_the_peer_does_not_read(server: Server) -> None:
    stalled = asyncio.Event()

    async def never_read(ws: web.WebSocketResponse) -> None:
        await stalled.wait()

    server.handler = never_read
    ws = await websocket.connect(server.url())
    chunk = b"z" * (256 * 1024)
    sent = 0
    with pytest.raises(TimeoutError):
        while sent < 256 * 1024 * 1024:
            await asyncio.wait_for(ws.send_bytes(chunk), 0.5)
            sent += len(chunk)
    assert sent < 64 * 1024 * 1024  # held back by the socket, not buffered without bound
    stalled.set()
    ws._writer.transport.abort()


async def test_tls_checks_the_servers_name(tmp_path: Path) -> None:
    ca = CertificateAuthority.generate()
    cert, key = ca.issue_server_cert(tmp_path, "server", ["127.0.0.1"])
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    s = Server()
    s.closed_with = asyncio.get_running_loop().create_future()
    s.handler = _echo
    app = web.Application()
    app.router.add_get("/ws", s.ws)
    runner, s.port = await _start(app, host="127.0.0.2", ssl_context=server_ctx)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):  # 127.0.0.2 is not in the certificate
            await websocket.connect(s.url("127.0.0.2", "wss"), ssl_context=client_ssl_context(ca.cert_pem))
        with pytest.raises(ssl.SSLCertVerificationError):  # a server of another CA
            await websocket.connect(s.url("127.0.0.2", "wss"),
                                    ssl_context=client_ssl_context(CertificateAuthority.generate().cert_pem))
    finally:
        await runner.cleanup()
    runner, s.port = await _start(app, host="127.0.0.1", ssl_context=server_ctx)
    try:
        ws = await websocket.connect(s.url("127.0.0.1", "wss"), ssl_context=client_ssl_context(ca.cert_pem))
        await ws.send_bytes(b"over tls")
        assert await ws.receive() == b"over tls"
        await ws.close()
        assert ws.close_code == 1000
    finally:
        await runner.cleanup()


# -- a raw server, for frames aiohttp does not send ------------------------------------------------------


def _frame(opcode: int, payload: bytes, fin: bool) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    return head + bytes([126]) + struct.pack("!H", len(payload)) + payload


async def _raw_server(frames: list[bytes]) -> tuple[asyncio.Server, int]:
    """Completes the handshake, sends ``frames`` as they are, then waits for the client to hang up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + b"".join(frames))
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_fragmented_messages_are_joined_and_pings_between_fragments_answered() -> None:
    frames = [
        _frame(0x2, b"\x01first-", fin=False),
        _frame(0x9, b"mid", fin=True),  # a ping may come between the fragments of a message
        _frame(0x0, b"second-", fin=False),
        _frame(0x0, b"third", fin=True),
        _frame(0x1, b"tex", fin=False),
        _frame(0x0, "t ✓".encode(), fin=True),
        _frame(0x2, b"whole", fin=True),
    ]
    server, port = await _raw_server(frames)
    try:
        ws = await websocket.connect(f"ws://127.0.0.1:{port}/")
        assert await ws.receive() == b"\x01first-second-third"
        assert await ws.receive() == "text ✓"
        assert await ws.receive() == b"whole"
        ws._writer.transport.abort()
    finally:
        server.close()


async def test_fragments_count_towards_the_size_limit() -> None:
    frames = [_frame(0x2, b"a" * 600, fin=False), _frame(0x0, b"b" * 600, fin=True)]
    server, port = await _raw_server(frames)
    try:
        ws = await websocket.connect(f"ws://127.0.0.1:{port}/", max_size=1000)
        with pytest.raises(WireError, match="1009"):
            await ws.receive()
        assert ws.close_code == 1009 and ws.closed
    finally:
        server.close()


async def test_an_invalid_frame_is_a_protocol_error() -> None:
    server, port = await _raw_server([_frame(0x0, b"continuation of nothing", fin=True)])
    try:
        ws = await websocket.connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(WireError, match="1002"):
            await ws.receive()
        assert ws.close_code == 1002
    finally:
        server.close()
