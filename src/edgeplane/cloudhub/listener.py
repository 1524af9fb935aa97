"""The API port's listener: edge hub connections and everything else on one port, told apart by TLS ALPN.

An edge agent offers the ALPN protocol ``edgeplane-hub/1`` in its ClientHello; kubectl, the Python client
and browsers offer h2/http/1.1 or nothing. The listener accepts each connection itself, peeks at the
ClientHello without consuming it, and hands the socket to one of two routes: the hub's lean connection
stack, or the HTTP server's own (aiohttp behind the stdlib TLS), which then does the whole handshake from
the first byte. Bytes that are not TLS at all (the edge's reachability probe, a plain-HTTP client) go to
the stdlib route, which answers them at once with an alert and a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

from edgeplane.cloudhub import protocol
from edgeplane.cloudhub.tls.clienthello import ClientHello, peek_client_hello
from edgeplane.cloudhub.tls.handshake import LeanTLSContext
from edgeplane.cloudhub.tls.transport import LeanTLSProtocol

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0  # seconds for a client to send its ClientHello and finish the TLS handshake
BACKLOG = 1024
_ACCEPT_PAUSE = 1.0  # seconds without accepting after the process ran out of file descriptors

Route = Callable[[socket.socket], Awaitable[object]]  # takes over an accepted socket


def offers_hub(hello: ClientHello | None) -> bool:
    return hello is not None and protocol.HUB_ALPN in hello.alpn


def tls_route(factory: Callable[[], asyncio.Protocol], ssl_context: ssl.SSLContext,
              handshake_timeout: float = HANDSHAKE_TIMEOUT) -> Route:
    """A route that does the TLS handshake with the stdlib and serves the connection with ``factory``."""
    async def serve(sock: socket.socket) -> object:
        loop = asyncio.get_running_loop()
        return await loop.connect_accepted_socket(factory, sock, ssl=ssl_context,
                                                  ssl_handshake_timeout=handshake_timeout)
    return serve


def lean_tls_route(factory: Callable[[], asyncio.Protocol], context: LeanTLSContext,
                   handshake_timeout: float = HANDSHAKE_TIMEOUT) -> Route:
    """A route that does the TLS handshake with OpenSSL, then keeps only the record keys (``tls/``)."""
    async def serve(sock: socket.socket) -> object:
        loop = asyncio.get_running_loop()
        return await loop.connect_accepted_socket(
            lambda: LeanTLSProtocol(factory, context, handshake_timeout=handshake_timeout), sock)
    return serve


class Listener:
    """Accepts on ``host:port`` and routes each connection to ``hub`` or ``other`` by its ClientHello."""

    def __init__(self, host: str, port: int, *, hub: Route, other: Route, backlog: int = BACKLOG,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.hub = hub
        self.other = other
        self.backlog = backlog
        self.handshake_timeout = handshake_timeout
        self.sockets: list[socket.socket] = []
        self._routing: set[asyncio.Task[None]] = set()  # connections being peeked at or handshaking
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host or None, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as exc:
                    raise OSError(exc.errno, f"cannot listen on {address[0]}:{address[1]}: {exc.strerror}") from None
                sock.listen(self.backlog)
                sock.setblocking(False)
        except BaseException:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()
            raise
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, listening: socket.socket) -> None:
        assert self._loop is not None
        for _ in range(self.backlog):
            try:
                sock, _addr = listening.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("API listener: cannot accept connections (%s); pausing %.0fs", exc, _ACCEPT_PAUSE)
                    self._loop.remove_reader(listening.fileno())
                    self._loop.call_later(_ACCEPT_PAUSE, self._resume, listening)
                    return
                raise
            sock.setblocking(False)
            task = self._loop.create_task(self._route(sock))
            self._routing.add(task)
            task.add_done_callback(self._routing.discard)

    def _resume(self, listening: socket.socket) -> None:
        if self._loop is not None and listening in self.sockets:
            self._loop.add_reader(listening.fileno(), self._accept, listening)

    async def _route(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            hello = await peek_client_hello(sock, timeout=self.handshake_timeout)
            if hello is None and loop.time() - started >= self.handshake_timeout:
                sock.close()  # silent: not worth a TLS server's time
                return
            await (self.hub if offers_hub(hello) else self.other)(sock)
        except asyncio.CancelledError:
            sock.close()
            raise
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.debug("API listener: connection failed before it was served: %s", exc)
            sock.close()

    async def close(self) -> None:
        """Stops accepting, then drops the connections still peeked at or handshaking."""
        for sock in self.sockets:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets.clear()
        tasks = list(self._routing)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
