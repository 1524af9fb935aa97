"""Probing for the cloud's return while the hub client backs off, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator

import pytest

from edgeplane.edge import netprobe
from edgeplane.edge.wire.errors import HandshakeRefused, WireError
from edgeplane.pki.ca import CertificateAuthority


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    ca = CertificateAuthority.generate()
    cert, key = ca.issue_server_cert(tmp_path_factory.mktemp("pki"), "server", ["127.0.0.1"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


async def _tls_server(ctx: ssl.SSLContext, port: int = 0) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", port, ssl=ctx)


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """Accepts connections and never says anything: a path whose far end is gone behind a NAT or proxy."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for w in held:
        w.close()


async def test_a_tls_server_answers_the_probe_at_once(tls_context: ssl.SSLContext) -> None:
    server = await _tls_server(tls_context)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    assert await netprobe.answers("127.0.0.1", port)
    assert time.monotonic() - started < 1.0
    server.close()


async def test_a_refused_or_silent_path_does_not_answer(silent_port: int) -> None:
    assert not await netprobe.answers("127.0.0.1", _closed_port())
    started = time.monotonic()
    assert not await netprobe.answers("127.0.0.1", silent_port, patience=0.3)
    assert 0.25 < time.monotonic() - started < 1.0


async def test_waiting_ends_soon_after_the_cloud_returns(tls_context: ssl.SSLContext) -> None:
    port = _closed_port()
    started = time.monotonic()
    waiting = asyncio.create_task(netprobe.wait_to_retry(20.0, "127.0.0.1", port, probe=True, every=0.2))
    await asyncio.sleep(0.6)
    assert not waiting.done()  # refused so far: still waiting
    server = await _tls_server(tls_context, port)
    assert await asyncio.wait_for(waiting, 2.0) == "answered"
    assert time.monotonic() - started < 1.5
    server.close()


async def test_a_silent_path_or_a_refusal_waits_out_the_backoff(silent_port: int) -> None:
    started = time.monotonic()
    assert await netprobe.wait_to_retry(0.8, "127.0.0.1", silent_port, probe=True, every=0.2) == "elapsed"
    assert 0.75 < time.monotonic() - started < 1.5
    # Without probing (the cloud answered and refused), the whole delay passes even if it answers now.
    started = time.monotonic()
    assert await netprobe.wait_to_retry(0.5, "127.0.0.1", silent_port, probe=False, every=0.1) == "elapsed"
    assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize(("exc", "expected"), [
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),
    (ConnectionResetError("the server closed the connection during the WebSocket handshake"), True),
    (OSError(101, "Network is unreachable"), True),
    (ssl.SSLError(1, "certificate verify failed"), False),
    (HandshakeRefused(403, b"not a node"), False),
    (WireError("not HTTP"), False),
    (ValueError("bad frame"), False),
])
def test_which_failures_mean_out_of_reach(exc: BaseException, expected: bool) -> None:
    assert netprobe.out_of_reach(exc) is expected


def test_endpoint_of_the_hub_url() -> None:
    assert netprobe.endpoint("wss://cloud.example:6443/edgeplane/v1/hub") == ("cloud.example", 6443)
    assert netprobe.endpoint("wss://10.0.0.1/edgeplane/v1/hub") == ("10.0.0.1", 443)
    with pytest.raises(ValueError, match="names no host"):
        netprobe.endpoint("wss:///hub")


