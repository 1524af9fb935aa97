"""TLS connections share one read buffer per thread, and data still arrives intact."""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import threading

import pytest

from edgeplane.cloudhub.tlsmemory import share_tls_read_buffers
from edgeplane.pki.ca import CertificateAuthority

PAYLOAD = 300 * 1024  # more than one buffer's worth per connection


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = CertificateAuthority.generate()
    cert, key = ca.issue_server_cert(tmp_path_factory.mktemp("pki"), "server", ["127.0.0.1"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cadata=ca.cert_pem.decode())
    return server, client


async def _exchange(contexts: tuple[ssl.SSLContext, ssl.SSLContext], connections: int) -> list[set[int]]:
    """Every client sends its own random payload; the server echoes a digest of what it received. Returns
    the ids of the read buffers the server's and the clients' transports used."""
    server_ctx, client_ctx = contexts
    buffers: set[int] = set()

    async def echo_digest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readexactly(PAYLOAD)
        buffers.add(id(writer.transport._ssl_protocol._ssl_buffer_view.obj))  # type: ignore[attr-defined]
        writer.write(hashlib.sha256(data).digest())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo_digest, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]

    async def one() -> None:
        payload = os.urandom(PAYLOAD)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                       server_hostname="127.0.0.1")
        writer.write(payload)
        assert await reader.readexactly(32) == hashlib.sha256(payload).digest()
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    server.close()
    await server.wait_closed()
    return [buffers]


async def test_many_connections_read_through_one_buffer_intact(
        contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    share_tls_read_buffers()
    share_tls_read_buffers()  # idempotent
    [buffers] = await _exchange(contexts, 20)
    assert len(buffers) == 1


def test_event_loops_in_threads_do_not_share_a_buffer(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    share_tls_read_buffers()
    seen: list[set[int]] = []
    errors: list[BaseException] = []
    all_done = threading.Barrier(3, timeout=60)  # every thread's buffer alive at once, so ids are distinct

    def run() -> None:
        try:
            seen.extend(asyncio.run(_exchange(contexts, 8)))
        except BaseException as exc:  # reported below
            errors.append(exc)
        all_done.wait()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert all(len(s) == 1 for s in seen) and len(set().union(*seen)) == 3


def test_a_buffer_smaller_than_a_record_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold a whole TLS record"):
        share_tls_read_buffers(4096)


