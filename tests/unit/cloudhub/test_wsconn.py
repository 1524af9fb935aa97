"""The lean WebSocket server connection on a real loopback socket (no TLS), against raw client frames.

A tiny endpoint records what the connection hands it; the client side writes RFC 6455 frames by hand, so
fragmentation, pings and closes are exactly what the test says they are.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from wsproto.utilities import generate_accept_token

from edgeplane.cloudhub import wsconn
from edgeplane.cloudhub.wsconn import Refused, WebSocketConnection

PATH = "/ws"


@dataclass
class Recorder:
    """Endpoint and receiver in one: accepts requests whose Authorization is "Bearer ok"."""

    messages: list[bytes | str] = field(default_factory=list)
    conns: list[WebSocketConnection] = field(default_factory=list)
    gone_codes: list[int | None] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def upgrade(self, conn: WebSocketConnection, authorization: str | None) -> Recorder:
        if authorization != "Bearer ok":
            raise Refused(403, "who are you?\n")
        self.conns.append(conn)
        return self

    def on_message(self, data: bytes | str) -> None:
        self.messages.append(data)
        self.got.set()

    def gone(self, conn: WebSocketConnection) -> None:
        self.gone_codes.append(conn.close_code)
        self.ended.set()


@dataclass
class Server:
    port: int
    endpoint: Recorder


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    endpoint = Recorder()
    srv = await asyncio.get_running_loop().create_server(
        lambda: WebSocketConnection(endpoint, PATH, heartbeat=0.3, max_size=1000), "127.0.0.1", 0)
    yield Server(srv.sockets[0].getsockname()[1], endpoint)
    srv.close()


def request(path: str = PATH, *, method: str = "GET", auth: str = "Bearer ok", version: str = "13",
            key: str | None = None, upgrade: bool = True) -> bytes:
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = [f"{method} {path} HTTP/1.1", "Host: test", f"Authorization: {auth}", f"Sec-WebSocket-Key: {key}",
             f"Sec-WebSocket-Version: {version}"]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: keep-alive, Upgrade"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    assert not second & 0x80, "a server's frames are not masked"
    n = second & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(n)


async def open_ws(port: int, head: bytes | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head or request())
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert status.startswith(b"HTTP/1.1 101 "), status
    return reader, writer


async def http_answer(port: int, data: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    response = await asyncio.wait_for(reader.read(), 5)  # the server answers, then closes
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_upgrade_answers_with_the_accept_token_and_frames_flow_both_ways(server: Server) -> None:
    key = base64.b64encode(b"0123456789abcdef").decode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request(key=key) + frame(0x2, b"sent with the request"))  # frames may follow at once
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"Sec-WebSocket-Accept: " + generate_accept_token(key.encode()) in head
    await asyncio.wait_for(server.endpoint.got.wait(), 5)
    assert server.endpoint.messages == [b"sent with the request"]
    await server.endpoint.conns[0].send_bytes(b"x" * 70_000)  # an 8-byte length
    assert await read_frame(reader) == (0x2, b"x" * 70_000)
    writer.close()


async def test_fragmented_messages_are_joined_and_pings_answered_between_fragments(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    writer.write(frame(0x1, "hé".encode()[:2], fin=False) + frame(0x9, b"are you there")
                 + frame(0x0, "hé".encode()[2:] + b"llo", fin=False) + frame(0x0, b"!"))
    assert await asyncio.wait_for(read_frame(reader), 5) == (0xA, b"are you there")
    await asyncio.wait_for(server.endpoint.got.wait(), 5)
    assert server.endpoint.messages == ["héllo!"]  # text stays text, split UTF-8 included
    writer.close()


async def test_a_message_over_the_limit_closes_with_1009_even_in_small_fragments(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    writer.write(b"".join(frame(0x2 if i == 0 else 0x0, b"y" * 300, fin=False) for i in range(4)))
    opcode, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
    assert b"longer than 1000 bytes" in payload
    assert server.endpoint.messages == []
    writer.close()


async def test_the_peer_s_close_is_answered_with_its_code(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    writer.write(frame(0x8, struct.pack("!H", 4321) + b"bye"))
    opcode, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 4321
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and the server closes the TCP connection
    await asyncio.wait_for(server.endpoint.ended.wait(), 5)
    assert server.endpoint.gone_codes == [4321]


async def test_our_close_waits_for_the_peer_then_ends(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    conn = server.endpoint.conns[0]
    conn.close(4000, "replaced")
    assert await asyncio.wait_for(read_frame(reader), 5) == (0x8, struct.pack("!H", 4000) + b"replaced")
    with pytest.raises(ConnectionResetError):
        await conn.send_bytes(b"too late")
    # A message that crossed our close is dropped; the close reply behind it in the same read ends it.
    writer.write(frame(0x2, b"crossing") + frame(0x8, struct.pack("!H", 4000)))
    await asyncio.wait_for(server.endpoint.ended.wait(), 1)
    assert server.endpoint.gone_codes == [4000]
    assert server.endpoint.messages == []
    writer.close()


async def test_a_silent_peer_is_pinged_then_dropped_and_one_that_answers_stays(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(3):  # answering pings keeps the connection over several heartbeats
        opcode, payload = await asyncio.wait_for(read_frame(reader), 2)
        assert opcode == 0x9
        writer.write(frame(0xA, payload))
    assert loop.time() - started >= 0.8 and not server.endpoint.ended.is_set()
    # Now silent: pinged after 0.3 s, dropped 0.15 s after that without a close frame (1006).
    assert (await asyncio.wait_for(read_frame(reader), 2))[0] == 0x9
    await asyncio.wait_for(server.endpoint.ended.wait(), 2)
    assert server.endpoint.gone_codes == [wsconn.ABNORMAL]
    assert await asyncio.wait_for(reader.read(), 2) == b""


async def test_protocol_errors_close_with_1002(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    writer.write(b"\x82\x05hello")  # unmasked: clients must mask
    opcode, payload = await asyncio.wait_for(read_frame(reader), 5)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002
    writer.close()


@pytest.mark.parametrize(("data", "status", "text"), [
    (request("/elsewhere"), 404, b"nothing is served at /elsewhere"),
    (request(method="POST"), 405, b"takes GET"),
    (request(upgrade=False), 426, b"is a WebSocket endpoint"),
    (request(version="8"), 426, b"version '8' is not supported"),
    (request(key="short"), 400, b"Sec-WebSocket-Key"),
    (request(auth="Bearer nope"), 403, b"who are you?"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n", 400, b"not a valid HTTP/1.1 request"),
])
async def test_bad_upgrade_requests_get_a_status_and_a_reason(server: Server, data: bytes, status: int,
                                                             text: bytes) -> None:
    got_status, body = await http_answer(server.port, data)
    assert got_status == status and text in body, body
    assert server.endpoint.conns == []


async def test_a_request_that_never_completes_is_cut(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsconn, "HANDSHAKE_TIMEOUT", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /ws HTTP/1.1\r\n")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


async def test_send_waits_while_the_transport_is_paused(server: Server) -> None:
    reader, writer = await open_ws(server.port)
    conn = server.endpoint.conns[0]
    conn.pause_writing()
    sending = asyncio.create_task(conn.send_bytes(b"later"))
    await asyncio.sleep(0.05)
    assert not sending.done()
    conn.resume_writing()
    await asyncio.wait_for(sending, 1)
    assert await asyncio.wait_for(read_frame(reader), 2) == (0x2, b"later")
    writer.close()
