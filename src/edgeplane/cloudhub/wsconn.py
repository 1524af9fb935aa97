"""A lean WebSocket server connection (RFC 6455) as an asyncio Protocol, for the cloud hub's edge nodes.

A thousand idle edge connections must cost the cloud little, so there is no task per connection and no
HTTP server around it: the upgrade request is parsed with h11 (whose state is dropped once upgraded), and
after that the connection keeps a frame decoder (wsproto's ``FrameProtocol``), a few numbers and one
timer. Whole messages are handed to the endpoint's receiver by callback, in the event loop's read callback.

Keepalive works as aiohttp's heartbeat: a peer silent for ``heartbeat`` seconds gets a ping, and one still
silent half a heartbeat later is dropped (close code 1006), so a link that died without a FIN (a NAT that
lost its mapping) is noticed. Outgoing frames are written whole, one transport write each (one TLS record
for a small frame), and ``send_bytes`` waits while the transport's buffer is over its high-water mark.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import struct
from http import HTTPStatus
from typing import Protocol

import h11
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, ParseFailed
from wsproto.utilities import generate_accept_token

log = logging.getLogger(__name__)

GOING_AWAY = int(CloseReason.GOING_AWAY)  # 1001
PROTOCOL_ERROR = int(CloseReason.PROTOCOL_ERROR)  # 1002
ABNORMAL = int(CloseReason.ABNORMAL_CLOSURE)  # 1006: the connection ended without a close frame
TOO_BIG = int(CloseReason.MESSAGE_TOO_BIG)  # 1009
CLOSE_TIMEOUT = 5.0  # seconds a peer has to answer our close frame before the connection is cut
HANDSHAKE_TIMEOUT = 10.0  # seconds from connecting to a complete upgrade request

_HANDSHAKE, _OPEN, _CLOSING, _CLOSED = range(4)


class Refused(Exception):
    """An upgrade request the endpoint turns down: answered with ``status`` and ``body``, then closed."""

    def __init__(self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8",
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(body if isinstance(body, str) else body.decode(errors="replace"))
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers


class Receiver(Protocol):
    def on_message(self, data: bytes | str) -> None:
        """One whole message from the peer (bytes if binary, str if text)."""


class Endpoint(Protocol):
    """The application behind the connections (the hub)."""

    def upgrade(self, conn: WebSocketConnection, authorization: str | None) -> Receiver:
        """Accepts a valid upgrade request (raising Refused otherwise) and returns who gets its messages."""

    def gone(self, conn: WebSocketConnection) -> None:
        """The connection ended (upgraded or not); ``conn.close_code`` says how."""


class WebSocketConnection(asyncio.Protocol):
    __slots__ = ("_endpoint", "_frames", "_heard", "_heartbeat", "_http", "_max_size", "_parts", "_path", "_paused",
                 "_reading_paused", "_size", "_state", "_timer", "_transport", "_writable", "close_code",
                 "close_reason", "receiver")

    def __init__(self, endpoint: Endpoint, path: str, *, heartbeat: float, max_size: int) -> None:
        self._endpoint = endpoint
        self._path = path
        self._heartbeat = heartbeat
        self._max_size = max_size
        self._transport: asyncio.Transport | None = None
        self._state = _HANDSHAKE
        self._http: h11.Connection | None = h11.Connection(h11.SERVER)
        self._frames: FrameProtocol | None = None
        self.receiver: Receiver | None = None
        self._parts: list[bytes | str] | None = None  # fragments of the message being received
        self._size = 0
        self._heard = 0.0  # loop time the peer last sent anything
        self._timer: asyncio.TimerHandle | None = None  # handshake deadline, then heartbeat, then close deadline
        self._paused = False
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None  # resolved when the transport drains again
        self.close_code: int | None = None
        self.close_reason = ""

    # -- what the endpoint uses ------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self._state == _OPEN

    def get_extra_info(self, name: str) -> object:
        return self._transport.get_extra_info(name) if self._transport is not None else None

    def peercert(self) -> bytes | None:
        """The client certificate (DER) of the TLS connection, if the client presented one."""
        ssl_object = self.get_extra_info("ssl_object")
        if ssl_object is not None:
            return ssl_object.getpeercert(binary_form=True)  # type: ignore[attr-defined, no-any-return]
        cert = self.get_extra_info("peercert")  # the lean TLS transport gives the DER bytes directly
        return cert if isinstance(cert, bytes) else None

    def forget_peercert(self) -> None:
        """The certificate was authenticated: a transport that keeps its own copy may let it go."""
        forget = getattr(self._transport, "forget_peercert", None)
        if forget is not None:
            forget()

    async def send_bytes(self, data: bytes) -> None:
        """Sends one binary message, first waiting while the transport is over its high-water mark."""
        while self._paused and self._state == _OPEN:
            if self._writable is None:
                self._writable = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._writable)
        if self._state != _OPEN or self._transport is None:
            raise ConnectionResetError("the WebSocket connection is closed")
        self._transport.write(_frame(Opcode.BINARY, data))

    def pause_reading(self) -> None:
        """Stops reading from the peer (its sends then wait on TCP) until resume_reading()."""
        if not self._reading_paused and self._transport is not None and self._state != _CLOSED:
            self._reading_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and self._state != _CLOSED:
            self._reading_paused = False
            self._transport.resume_reading()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the close handshake; the peer has CLOSE_TIMEOUT seconds to answer before the cut."""
        if self._state != _OPEN or self._transport is None:
            if self._state == _HANDSHAKE and self._transport is not None:
                self._transport.abort()
            return
        self._state = _CLOSING
        self.close_code, self.close_reason = code, reason
        self._transport.write(_close_frame(code, reason))
        self._set_timer(CLOSE_TIMEOUT, self._abort)
        self._wake_writers()

    # -- asyncio.Protocol --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._set_timer(HANDSHAKE_TIMEOUT, self._abort)

    def data_received(self, data: bytes) -> None:
        self._heard = asyncio.get_running_loop().time()
        if self._state == _HANDSHAKE:
            self._handshake(data)
        elif self._frames is not None and self._state != _CLOSED:
            self._frames.receive_bytes(data)
            self._read_frames()

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        was = self._state
        self._state = _CLOSED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._http = self._frames = None
        self._parts = None
        if self.close_code is None:
            self.close_code = ABNORMAL
        self._wake_writers()
        if was != _CLOSED:
            self._endpoint.gone(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writers()

    # -- the upgrade -------------------------------------------------------------------------------------

    def _handshake(self, data: bytes) -> None:
        http = self._http
        assert http is not None
        http.receive_data(data)
        try:
            request = None
            while True:
                event = http.next_event()
                if isinstance(event, h11.Request):
                    request = event
                elif event is h11.NEED_DATA:
                    return
                elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    self._abort()
                    return
            if request is None:  # pragma: no cover - h11 yields the request before its end
                return
            key = self._check(request)
            self.receiver = self._endpoint.upgrade(self, _header(request, b"authorization"))
        except h11.RemoteProtocolError as exc:
            self._refuse(Refused(400, f"not a valid HTTP/1.1 request: {exc}\n"))
            return
        except Refused as refusal:
            self._refuse(refusal)
            return
        assert self._transport is not None
        self._transport.write(_response(101, (("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                              ("Sec-WebSocket-Accept", generate_accept_token(key).decode()))))
        leftover = http.trailing_data[0]
        self._http = None  # the HTTP side is done with: its buffers and state go
        self._state = _OPEN
        self._frames = FrameProtocol(client=False, extensions=[])
        self._set_timer(self._heartbeat, self._beat)
        if leftover:
            self._frames.receive_bytes(leftover)
            self._read_frames()

    def _check(self, request: h11.Request) -> bytes:
        """The request's Sec-WebSocket-Key if it is a WebSocket upgrade of our path; Refused otherwise."""
        path = request.target.split(b"?", 1)[0].decode("ascii", "replace")
        if path != self._path:
            raise Refused(404, f"nothing is served at {path}: the edge hub is at {self._path}\n")
        if request.method != b"GET":
            raise Refused(405, f"the edge hub takes GET (a WebSocket upgrade), not {request.method.decode()}\n",
                          headers=(("Allow", "GET"),))
        upgrade_headers = (("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"))
        if b"websocket" not in _tokens(request, b"upgrade") or b"upgrade" not in _tokens(request, b"connection"):
            raise Refused(426, f"{self._path} is a WebSocket endpoint: send Upgrade: websocket and "
                               "Connection: Upgrade\n", headers=upgrade_headers)
        version = _header(request, b"sec-websocket-version")
        if version != "13":
            raise Refused(426, f"WebSocket version {version!r} is not supported; use 13\n", headers=upgrade_headers)
        key = (_header(request, b"sec-websocket-key") or "").encode()
        try:
            valid = len(base64.b64decode(key, validate=True)) == 16
        except binascii.Error:
            valid = False
        if not valid:
            raise Refused(400, "Sec-WebSocket-Key must be 16 random bytes in base64\n")
        return key

    def _refuse(self, refusal: Refused) -> None:
        log.debug("hub: refused a WebSocket upgrade with %s: %s", refusal.status, refusal)
        assert self._transport is not None
        headers = (("Content-Type", refusal.content_type), ("Content-Length", str(len(refusal.body))),
                   ("Connection", "close"), *refusal.headers)
        self._transport.write(_response(refusal.status, headers) + refusal.body)
        self._http = None
        self._transport.close()

    # -- frames ------------------------------------------------------------------------------------------

    def _read_frames(self) -> None:
        frames = self._frames
        assert frames is not None
        try:
            for frame in frames.received_frames():
                opcode = frame.opcode
                if opcode is Opcode.PING:
                    self._write(_frame(Opcode.PONG, frame.payload))  # type: ignore[arg-type]
                elif opcode is Opcode.CLOSE:
                    self._peer_closed(*frame.payload)  # type: ignore[misc]
                    return
                elif (opcode is Opcode.TEXT or opcode is Opcode.BINARY) and self._state == _OPEN:
                    # Once we sent our close, data is skipped while we wait for the peer's close frame.
                    self._on_data(frame.payload, frame.message_finished)  # type: ignore[arg-type]
                if self._state == _CLOSED:
                    return
        except ParseFailed as exc:
            self.close(int(exc.code), str(exc)[:120])

    def _on_data(self, payload: bytes | str, finished: bool) -> None:
        self._size += len(payload)
        if self._size > self._max_size:
            self.close(TOO_BIG, f"message longer than {self._max_size} bytes")
            return
        if not finished:
            if self._parts is None:
                self._parts = []
            self._parts.append(payload)
            return
        if self._parts is not None:
            self._parts.append(payload)
            message: bytes | str = "".join(self._parts) if isinstance(payload, str) else b"".join(self._parts)  # type: ignore[arg-type]
            self._parts = None
        else:
            message = payload
        self._size = 0
        if self.receiver is not None:
            self.receiver.on_message(message)

    def _peer_closed(self, code: int, reason: str) -> None:
        if self._state == _OPEN:  # the peer started: answer with its code, as RFC 6455 asks
            self.close_code, self.close_reason = int(code), reason
            self._write(_close_frame(int(code) if code != CloseReason.NO_STATUS_RCVD else None, ""))
        self._state = _CLOSING
        self._wake_writers()
        assert self._transport is not None
        self._transport.close()

    # -- keepalive and ending ----------------------------------------------------------------------------

    def _beat(self) -> None:
        """Pings a peer silent for a heartbeat; drops one still silent half a heartbeat after the ping."""
        if self._state != _OPEN:
            return
        loop = asyncio.get_running_loop()
        silent = loop.time() - self._heard
        if silent >= self._heartbeat * 1.5:
            log.info("hub: dropping a connection silent for %.1fs", silent)
            self._abort()
            return
        if silent >= self._heartbeat:
            self._write(_frame(Opcode.PING, b""))
            self._timer = loop.call_at(self._heard + self._heartbeat * 1.5, self._beat)
        else:
            self._timer = loop.call_at(self._heard + self._heartbeat, self._beat)

    def _abort(self) -> None:
        if self._transport is not None and self._state != _CLOSED:
            self._transport.abort()

    def _set_timer(self, delay: float, callback: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)  # type: ignore[arg-type]

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _wake_writers(self) -> None:
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None


def _frame(opcode: Opcode, payload: bytes) -> bytes:
    """An unmasked frame (a server's), built here so a large payload is copied once, not three times."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def _close_frame(code: int | None, reason: str) -> bytes:
    if code is None:
        return _frame(Opcode.CLOSE, b"")
    return _frame(Opcode.CLOSE, struct.pack("!H", code) + reason.encode()[:123])


def _response(status: int, headers: tuple[tuple[str, str], ...]) -> bytes:
    """An HTTP/1.1 response head (h11 parses the request; the answers are this simple)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _header(request: h11.Request, name: bytes) -> str | None:
    for key, value in request.headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _tokens(request: h11.Request, name: bytes) -> set[bytes]:
    """The comma-separated tokens of every ``name`` header, lower-cased (h11 lower-cases names, not values)."""
    return {token.strip().lower() for key, value in request.headers if key == name for token in value.split(b",")}
