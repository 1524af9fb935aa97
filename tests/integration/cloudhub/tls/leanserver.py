"""A lean TLS server on loopback for tests: a listener that routes by the ClientHello as the cloud does
(the hub's ALPN to LeanTLSProtocol, the rest to asyncio's ordinary SSL), and certificates to talk to it."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgeplane.cloudhub.protocol import HUB_ALPN
from edgeplane.cloudhub.tls import LeanTLSContext, LeanTLSProtocol, peek_client_hello
from edgeplane.pki.ca import CertificateAuthority


@dataclass
class Pki:
    ca: CertificateAuthority
    dir: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    foreign_cert: Path  # a client certificate from another CA
    foreign_key: Path

    @classmethod
    def create(cls, base: Path) -> Pki:
        ca = CertificateAuthority.generate()
        server_cert, server_key = ca.issue_server_cert(base, "server", ["127.0.0.1"])
        paths = {}
        for name, issuer in (("client", ca), ("foreign", CertificateAuthority.generate("other-ca"))):
            cert, key = issuer.issue_client_cert("system:node:edge-1", ["system:nodes"])
            paths[name] = (base / f"{name}.crt", base / f"{name}.key")
            paths[name][0].write_bytes(cert)
            paths[name][1].write_bytes(key)
        (base / "ca.crt").write_bytes(ca.cert_pem)
        return cls(ca, base, server_cert, server_key, *paths["client"], *paths["foreign"])

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def lean_context(self) -> LeanTLSContext:
        return LeanTLSContext(self.server_cert, self.server_key, ca_pem=self.ca.cert_pem)

    def client_context(self, alpn: list[str] | None = None, cert: str | None = "client",
                       max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if cert:
            ctx.load_cert_chain(self.dir / f"{cert}.crt", self.dir / f"{cert}.key")
        ctx.set_alpn_protocols([HUB_ALPN] if alpn is None else alpn)
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx

    def stdlib_server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


class Recorder(asyncio.Protocol):
    """An application protocol that records what happens to it; ``echo`` sends back what it receives."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.eof = False
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.data_arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.data_arrived.set()
        if self.echo:
            assert self.transport is not None
            self.transport.write(data)

    def eof_received(self) -> bool | None:
        self.eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


@dataclass
class LeanServer:
    """Accepts on 127.0.0.1, peeks at each ClientHello and routes: hub ALPN -> lean, else stdlib ssl."""

    pki: Pki
    app: Callable[[], asyncio.Protocol] = Recorder
    apps: list[asyncio.Protocol] = field(default_factory=list)
    routed: list[str] = field(default_factory=list)  # "lean" | "stdlib" | "refused", per connection
    stdlib_apps: list[Recorder] = field(default_factory=list)
    route: bool = True  # False: every connection goes to the lean transport, whatever it offers
    handshake_timeout: float = 10.0
    port: int = 0
    peek_timeout: float = 2.0

    async def __aenter__(self) -> LeanServer:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._context = self.pki.lean_context()
        self._stdlib_context = self.pki.stdlib_server_context()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = asyncio.create_task(self._accept())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._accepting.cancel()
        for task in self._tasks:
            task.cancel()
        self._listener.close()
        for app in [*self.apps, *self.stdlib_apps]:
            transport = getattr(app, "transport", None)
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)

    def _lean(self) -> LeanTLSProtocol:
        return LeanTLSProtocol(self._new_app, self._context, handshake_timeout=self.handshake_timeout)

    def _new_app(self) -> asyncio.Protocol:
        app = self.app()
        self.apps.append(app)
        return app

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock, _ = await loop.sock_accept(self._listener)
            task = asyncio.create_task(self._route(sock))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _route(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        if not self.route:
            self.routed.append("lean")
            await loop.connect_accepted_socket(self._lean, sock)
            return
        hello = await peek_client_hello(sock, timeout=self.peek_timeout)
        if hello is None:
            self.routed.append("refused")
            sock.close()
        elif HUB_ALPN in hello.alpn:
            self.routed.append("lean")
            await loop.connect_accepted_socket(self._lean, sock)
        else:
            self.routed.append("stdlib")
            app = Recorder()
            self.stdlib_apps.append(app)
            await loop.connect_accepted_socket(lambda: app, sock, ssl=self._stdlib_context)

    def connect(self, ctx: ssl.SSLContext) -> asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        return asyncio.ensure_future(asyncio.open_connection("127.0.0.1", self.port, ssl=ctx,
                                                             server_hostname="127.0.0.1"))


class RawTLSClient:
    """A TLS client over a plain socket (ssl.SSLObject on memory BIOs), so a test controls every byte."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="127.0.0.1")
        self.sock = socket.socket()
        self.sock.setblocking(False)

    async def connect(self, port: int) -> None:
        await asyncio.get_running_loop().sock_connect(self.sock, ("127.0.0.1", port))

    async def handshake(self, *, send_last_flight: bool = True) -> bytes:
        """Runs the handshake; returns the client's last flight (its Finished) unsent if asked."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                await self.send_raw(self.outgoing.read())
                data = await loop.sock_recv(self.sock, 65536)
                if not data:
                    raise ConnectionError("server closed during the handshake") from None
                self.incoming.write(data)
                continue
            last = self.outgoing.read()
            if send_last_flight:
                await self.send_raw(last)
                return b""
            return last

    async def send_raw(self, data: bytes) -> None:
        if data:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def seal(self, data: bytes) -> bytes:
        self.tls.write(data)
        return self.outgoing.read()

    async def read_until_closed(self, timeout: float = 5.0) -> bytes:
        """Plaintext until the server closes; raises ssl.SSLError for an alert."""
        loop = asyncio.get_running_loop()
        plaintext = bytearray()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = await loop.sock_recv(self.sock, 65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.incoming.write_eof()
                else:
                    self.incoming.write(data)
                while True:
                    try:
                        chunk = self.tls.read(65536)
                    except ssl.SSLWantReadError:
                        break
                    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                        return bytes(plaintext)
                    if not chunk:  # close_notify
                        return bytes(plaintext)
                    plaintext += chunk
                if not data:
                    return bytes(plaintext)

    def close(self) -> None:
        self.sock.close()
