"""A WebSocket client (RFC 6455) on asyncio streams, with wsproto doing the framing.

What the hub client relies on: messages come whole (fragments are joined, and a message longer than
``max_size`` ends the connection with 1009); pings are answered; ``heartbeat`` sends a ping after that many
seconds without a byte from the peer and gives the link up (close code 1006) when nothing at all comes back
within half that time, so a link that went silent (a NAT that lost its mapping) is noticed without waiting
for TCP; ``close_code`` tells how the connection ended, as aiohttp's does: the peer's code when it closed
(or answered our close), 1006 when it was lost with no close frame, None while open.

Reading is pulled by ``receive()``: nothing is read while no one asks, so a slow reader holds the peer back
through TCP rather than buffering without bound. Pings are answered and the heartbeat sees the peer only
while someone receives, which the hub client always does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import struct
import time
from collections.abc import Iterable

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import RemoteProtocolError

from edgeplane.edge.wire.endpoint import Endpoint, open_stream
from edgeplane.edge.wire.errors import HandshakeRefused, WireError

READ_SIZE = 64 * 1024
MAX_REFUSAL_BODY = 4096  # bytes of a refused handshake's body kept for the error message
ABNORMAL = int(CloseReason.ABNORMAL_CLOSURE)  # 1006: the connection ended without a close frame
_XOR = [bytes(b ^ k for b in range(256)) for k in range(256)]  # _XOR[k] maps each byte b to b ^ k


def masked_binary_frame(payload: bytes) -> bytearray:
    """One whole binary message as a client sends it: a FIN frame masked with a fresh random key (RFC 6455
    5.3). Every byte the edge sends upstream goes through here (a log streaming up is all such frames),
    so the mask is applied in place, four translate() lanes over one buffer: about 1.2 GB/s, where
    wsproto's general encoder copies the payload several times over."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    key = os.urandom(4)
    frame = bytearray(head)
    frame += key
    start = len(frame)
    frame += payload
    for i in range(4):
        lane = slice(start + i, None, 4)
        frame[lane] = frame[lane].translate(_XOR[key[i]])
    return frame


class WebSocket:
    """One open client connection; made by ``connect()``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: WSConnection, *,
                 max_size: int, heartbeat: float | None, close_timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = conn
        self.max_size = max_size
        self.close_timeout = close_timeout
        self.close_code: int | None = None
        self._closed = asyncio.Event()
        self._receiving = False
        self._parts: list[bytes | str] = []  # fragments of the message being received
        self._size = 0
        self._ready: list[bytes | str] = []  # whole messages parsed from the last read, oldest first
        self._failure: WireError | None = None  # why we closed, raised once the messages before it are taken
        self._heard = time.monotonic()  # when the peer last sent anything
        self._keepalive = asyncio.create_task(self._beat(heartbeat)) if heartbeat else None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def send_bytes(self, data: bytes) -> None:
        """Sends one binary message; waits while the socket's send buffer is full."""
        self._check_open()
        self._writer.write(masked_binary_frame(data))
        await self._writer.drain()

    async def receive(self) -> bytes | str | None:
        """The next message (bytes if binary, str if text); None once the connection is over.

        WireError (after closing the connection) if the peer broke the protocol or sent too long a message.
        """
        if self._receiving:
            raise RuntimeError("another task is already receiving on this WebSocket")
        self._receiving = True
        try:
            while True:
                if not self._closed.is_set():
                    self._handle(self._conn.events())  # what was read already (at first: after the handshake)
                if self._ready:
                    return self._ready.pop(0)
                if self._failure is not None:
                    raise self._failure
                if self._closed.is_set():
                    return None
                try:
                    data = await self._reader.read(READ_SIZE)
                except OSError:  # reset, or TLS failure: the connection is lost
                    data = b""
                if self._closed.is_set():
                    return None
                self._heard = time.monotonic()
                self._conn.receive_data(data or None)
        finally:
            self._receiving = False

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> bytes | str:
        message = await self.receive()
        if message is None:
            raise StopAsyncIteration
        return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes with ``code`` and waits (at most ``close_timeout``) for the peer to answer."""
        if self._closed.is_set():
            return
        with contextlib.suppress(ConnectionError):
            self._send(CloseConnection(code=code, reason=reason or None))
        try:
            async with asyncio.timeout(self.close_timeout):
                await self._writer.drain()
                if self._receiving:  # that task reads the answer
                    await self._closed.wait()
                else:
                    while await self.receive() is not None:
                        pass  # messages still in flight are dropped
        except (TimeoutError, OSError, WireError):
            pass
        self._finish(ABNORMAL, abort=True)

    # -- internals -----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._conn.state is not ConnectionState.OPEN or self._writer.is_closing():
            raise ConnectionResetError("the WebSocket connection is closed")

    def _send(self, event: Event) -> None:
        """Sends a control frame through wsproto (which tracks the closing handshake)."""
        if self._conn.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING) \
                or self._writer.is_closing():
            raise ConnectionResetError("the WebSocket connection is closed")
        self._writer.write(self._conn.send(event))

    def _handle(self, events: Iterable[Event]) -> None:
        for event in events:
            if self._closed.is_set():
                return
            if isinstance(event, Message):
                self._collect(event)
            elif isinstance(event, Ping):
                with contextlib.suppress(ConnectionError):
                    self._send(event.response())
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return

    def _collect(self, event: Message) -> None:
        # Text is measured in characters: no protocol of ours sends text, and it cannot be shorter in bytes.
        self._size += len(event.data)
        if self._size > self.max_size:
            self._fail(int(CloseReason.MESSAGE_TOO_BIG), f"message longer than {self.max_size} bytes")
            return
        self._parts.append(event.data)
        if event.message_finished:
            parts, self._parts, self._size = self._parts, [], 0
            if len(parts) == 1:
                self._ready.append(parts[0])
            elif isinstance(parts[0], bytes):
                self._ready.append(b"".join(parts))  # type: ignore[arg-type]
            else:
                self._ready.append("".join(parts))  # type: ignore[arg-type]

    def _on_close(self, event: CloseConnection) -> None:
        state = self._conn.state
        if state is ConnectionState.REMOTE_CLOSING:  # the peer closes: answer, then hang up
            with contextlib.suppress(ConnectionError):
                self._send(event.response())
            self._finish(event.code, abort=False)
        elif state is ConnectionState.CLOSED:  # the peer answered our close, or the connection was lost
            self._finish(event.code, abort=event.code == ABNORMAL)
        else:  # wsproto could not parse what the peer sent
            self._fail(event.code, event.reason or "invalid WebSocket frame")

    def _fail(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionError):
            self._send(CloseConnection(code=code, reason=reason[:120]))
        self._finish(code, abort=False)
        self._failure = WireError(f"WebSocket closed with {code}: {reason}")

    def _finish(self, code: int, *, abort: bool) -> None:
        if self._closed.is_set():
            return
        self.close_code = code
        self._closed.set()
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()  # after what is still buffered (our close frame) is sent
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()

    async def _beat(self, every: float) -> None:
        patience = every / 2
        while not self._closed.is_set():
            await asyncio.sleep(max(0.0, self._heard + every - time.monotonic()))
            if time.monotonic() - self._heard < every:
                continue
            pinged = time.monotonic()
            try:
                self._send(Ping(payload=os.urandom(4)))
            except ConnectionError:
                return
            await asyncio.sleep(patience)
            if self._heard < pinged:  # not a byte since the ping: the link is gone
                self._finish(ABNORMAL, abort=True)
                return


async def connect(url: str, *, ssl_context: ssl.SSLContext | None = None, heartbeat: float | None = None,
                  max_size: int = 4 * 1024 * 1024, close_timeout: float = 5.0) -> WebSocket:
    """Opens a WebSocket to a ws:// or wss:// URL.

    HandshakeRefused if the server answers with another status than 101 (it carries status and body);
    OSError or ssl.SSLError if the server cannot be reached; WireError if what answers is not HTTP.
    """
    endpoint = Endpoint.parse(url)
    reader, writer = await open_stream(endpoint, ssl_context)
    try:
        conn = WSConnection(ConnectionType.CLIENT)
        writer.write(conn.send(Request(host=endpoint.host_header, target=endpoint.target)))
        await writer.drain()
        await _handshake(conn, reader)
    except BaseException:
        writer.transport.abort()
        raise
    return WebSocket(reader, writer, conn, max_size=max_size, heartbeat=heartbeat, close_timeout=close_timeout)


async def _handshake(conn: WSConnection, reader: asyncio.StreamReader) -> None:
    refused: RejectConnection | None = None
    body = bytearray()
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            if refused is not None:  # a refusal whose body ends with the connection
                raise HandshakeRefused(refused.status_code, bytes(body))
            raise ConnectionResetError("the server closed the connection during the WebSocket handshake")
        try:
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, AcceptConnection):
                    return
                if isinstance(event, RejectConnection):
                    refused = event
                    if not event.has_body:
                        raise HandshakeRefused(event.status_code, b"")
                elif isinstance(event, RejectData) and refused is not None:
                    body += event.data[:MAX_REFUSAL_BODY - len(body)]
                    if event.body_finished or len(body) >= MAX_REFUSAL_BODY:
                        raise HandshakeRefused(refused.status_code, bytes(body))
        except RemoteProtocolError as exc:
            raise WireError(f"the server's answer to the WebSocket handshake is not valid HTTP: {exc}") from None
