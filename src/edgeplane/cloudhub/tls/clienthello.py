"""Reads a TLS ClientHello before any TLS library sees it, to route a connection by what it offers.

The hub's edge connections and everything else (kubectl, the Python client, browsers) share one port. A
connection that offers the hub's ALPN protocol goes to the lean TLS transport; the rest to the ordinary
HTTPS server. ``peek_client_hello`` looks at an accepted socket's first bytes with ``MSG_PEEK``, so they
stay in the kernel for whichever TLS stack handles the connection.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from dataclasses import dataclass

HANDSHAKE_RECORD = 22
CLIENT_HELLO = 1
EXT_SERVER_NAME = 0
EXT_ALPN = 16
MAX_RECORD = 16384  # a plaintext record's fragment, RFC 8446 section 5.1
PEEK_LIMIT = 16 * 1024
PEEK_TIMEOUT = 10.0


class NotTLS(ValueError):
    """The bytes are not the start of a TLS ClientHello."""


class IncompleteClientHello(Exception):
    """The bytes are the start of a ClientHello; more are needed to read it whole."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    alpn: tuple[str, ...]  # in the client's order; empty when it offers no ALPN
    server_name: str | None  # SNI host name


class _Reader:
    """Bounds-checked reads over a byte string; ``what`` names the field for error messages."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise NotTLS(f"ClientHello {what} runs past its end ({n} bytes at offset {self.pos} of "
                         f"{len(self.data)})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def vector(self, length_bytes: int, what: str) -> bytes:
        return self.take(self.uint(length_bytes, f"{what} length"), what)

    def done(self) -> bool:
        return self.pos == len(self.data)


def _handshake_bytes(data: bytes) -> bytes:
    """The ClientHello handshake message reassembled from the leading handshake records."""
    body = bytearray()
    pos = 0
    needed: int | None = None
    while needed is None or len(body) < needed:
        if pos < len(data) and data[pos] != HANDSHAKE_RECORD:
            raise NotTLS(f"record of type {data[pos]} at offset {pos}, expected a handshake record (22)")
        if len(data) - pos < 5:
            raise IncompleteClientHello()
        major, length = data[pos + 1], int.from_bytes(data[pos + 3:pos + 5], "big")
        if major != 3:
            raise NotTLS(f"record version {major}.{data[pos + 2]} at offset {pos} is not TLS")
        if length == 0 or length > MAX_RECORD:
            raise NotTLS(f"handshake record of {length} bytes at offset {pos} (1 to {MAX_RECORD} allowed)")
        if len(data) < pos + 5 + length:
            raise IncompleteClientHello()
        body += data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if needed is None and len(body) >= 4:
            if body[0] != CLIENT_HELLO:
                raise NotTLS(f"first handshake message is of type {body[0]}, not a ClientHello (1)")
            needed = 4 + int.from_bytes(body[1:4], "big")
    return bytes(body[4:needed])


def parse_client_hello(data: bytes) -> ClientHello:
    """The ALPN list and SNI of the ClientHello at the start of ``data`` (a connection's first bytes).

    Raises IncompleteClientHello when ``data`` is a prefix of one, NotTLS when it cannot be one."""
    r = _Reader(_handshake_bytes(data))
    r.take(2 + 32, "version and random")
    r.vector(1, "session id")
    r.vector(2, "cipher suites")
    r.vector(1, "compression methods")
    alpn: tuple[str, ...] = ()
    server_name: str | None = None
    if r.done():  # extensions are optional in the grammar (a TLS 1.2 client without any)
        return ClientHello(alpn, server_name)
    extensions = _Reader(r.vector(2, "extensions"))
    while not extensions.done():
        ext_type = extensions.uint(2, "extension type")
        ext = _Reader(extensions.vector(2, f"extension {ext_type}"))
        if ext_type == EXT_ALPN:
            alpn = _alpn_names(_Reader(ext.vector(2, "ALPN list")))
        elif ext_type == EXT_SERVER_NAME:
            server_name = _host_name(_Reader(ext.vector(2, "server name list")))
    return ClientHello(alpn, server_name)


def _alpn_names(names: _Reader) -> tuple[str, ...]:
    found = []
    while not names.done():
        name = names.vector(1, "ALPN protocol name")
        if not name:
            raise NotTLS("ClientHello offers an empty ALPN protocol name")
        found.append(name.decode("ascii", "replace"))
    return tuple(found)


def _host_name(names: _Reader) -> str | None:
    while not names.done():
        name_type = names.uint(1, "server name type")
        name = names.vector(2, "server name")
        if name_type == 0:  # host_name, the only type defined
            return name.decode("ascii", "replace")
    return None


async def peek_client_hello(sock: socket.socket, *,
                            timeout: float = PEEK_TIMEOUT,  # noqa: ASYNC109 (a timeout is an answer: None)
                            max_size: int = PEEK_LIMIT) -> ClientHello | None:
    """The ClientHello at the start of an accepted socket, read without consuming it.

    None when the connection does not start with one, the peer closed or sent nothing in ``timeout``
    seconds, or the ClientHello is larger than ``max_size`` bytes. The socket is left non-blocking."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    seen = 0
    pause = 0.001
    while True:
        try:
            data = sock.recv(max_size, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            return None
        if data == b"":
            return None
        if data is not None:
            try:
                return parse_client_hello(data)
            except NotTLS:
                return None
            except IncompleteClientHello:
                if len(data) >= max_size:
                    return None
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if data is None:
            if not await _readable(loop, sock, left):
                return None
            continue
        # Peeked bytes keep the socket readable, so waiting for readability would spin: poll for the rest
        # instead (rare: a ClientHello nearly always arrives in one segment).
        if _peer_shut_down(sock):
            return None
        if len(data) > seen:
            seen, pause = len(data), 0.001
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def _peer_shut_down(sock: socket.socket) -> bool:
    """Whether the peer ended its side, though unread bytes remain (a peek would show those forever)."""
    hangup = getattr(select, "POLLRDHUP", 0) | select.POLLHUP
    poller = select.poll()
    poller.register(sock, select.POLLIN | hangup)
    return any(events & hangup for _, events in poller.poll(0))


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket, seconds: float) -> bool:
    ready = loop.create_future()
    fd = sock.fileno()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, seconds)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
