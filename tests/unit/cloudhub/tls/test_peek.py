"""Peeking at a socket's ClientHello leaves its bytes for the TLS stack, and gives up on what is not one."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from edgeplane.cloudhub.tls.clienthello import ClientHello, peek_client_hello
from tests.unit.cloudhub.tls.hellos import client_hello


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


async def test_the_bytes_stay_unread(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    hello = client_hello(["edgeplane-hub/1"], "cloud.example")
    client.sendall(hello + b"more")
    assert await peek_client_hello(server, timeout=1) == ClientHello(("edgeplane-hub/1",), "cloud.example")
    server.setblocking(True)
    assert server.recv(65536) == hello + b"more"


async def test_a_client_hello_arriving_in_pieces(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    hello = client_hello(["h2"])
    client.sendall(hello[:40])
    asyncio.get_running_loop().call_later(0.03, client.sendall, hello[40:])
    assert await peek_client_hello(server, timeout=1) == ClientHello(("h2",), None)


@pytest.mark.parametrize(("sent", "close", "max_size"), [
    (b"", False, 16384),  # silence: the timeout
    (b"\x16\x03\x01", True, 16384),  # the peer leaves after part of a ClientHello
    (b"", True, 16384),  # the peer leaves at once
    (b"SSH-2.0-OpenSSH_9.6\r\n", False, 16384),  # not TLS
    (None, False, 100),  # a ClientHello larger than allowed
])
async def test_what_yields_no_client_hello(pair: tuple[socket.socket, socket.socket], sent: bytes | None,
                                           close: bool, max_size: int) -> None:
    server, client = pair
    client.sendall(client_hello(["edgeplane-hub/1"]) if sent is None else sent)
    if close:
        client.shutdown(socket.SHUT_WR)
    started = time.monotonic()
    assert await peek_client_hello(server, timeout=0.2 if not close else 5, max_size=max_size) is None
    assert time.monotonic() - started < (0.5 if not close else 1)
