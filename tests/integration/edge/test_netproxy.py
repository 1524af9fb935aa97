"""The test TCP proxy: forwards, cuts (connections dropped, new ones refused), black-holes, restores."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.integration.netproxy import TCPProxy


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: _echo(c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def roundtrip(port: int, timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"ping")
        return s.recv(4096)


def test_forward_cut_restore_blackhole(echo: int) -> None:
    proxy = TCPProxy("127.0.0.1", echo).start()
    try:
        assert roundtrip(proxy.port) == b"ping"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
        held.sendall(b"a")
        assert held.recv(10) == b"a"
        proxy.cut()
        try:
            assert held.recv(10) == b""  # the open connection was dropped...
        except ConnectionResetError:
            pass  # ...or reset
        try:
            assert roundtrip(proxy.port) == b""  # accepted and closed at once...
        except OSError:
            pass  # ...or reset
        proxy.restore()
        assert roundtrip(proxy.port) == b"ping"
        proxy.cut(blackhole=True)
        with pytest.raises(TimeoutError):
            roundtrip(proxy.port, timeout=0.3)  # accepted, but nothing comes back
        proxy.restore()
        assert roundtrip(proxy.port) == b"ping"
        held.close()
    finally:
        proxy.stop()
