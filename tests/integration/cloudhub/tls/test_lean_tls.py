"""The lean TLS transport against real TLS clients (Python's ssl, i.e. OpenSSL) on loopback: data both
ways, refusals, close_notify either way, tampering, and routing by the ClientHello on a shared port."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import ssl
import weakref

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edgeplane.cloudhub.protocol import HUB_ALPN
from edgeplane.cloudhub.tls import LeanTLSContext
from edgeplane.cloudhub.tls.handshake import ServerHandshake
from tests.integration.cloudhub.tls.leanserver import LeanServer, Pki, RawTLSClient, Recorder

TIMEOUT = 10


async def test_messages_both_ways_and_what_the_app_learns_of_the_connection(pki: Pki) -> None:
    async with LeanServer(pki) as server:
        reader, writer = await server.connect(pki.client_context())
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == HUB_ALPN
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == b"ping"
        [app] = server.apps
        assert server.routed == ["lean"]
        transport = app.transport  # type: ignore[attr-defined]
        client_der = x509.load_pem_x509_certificate(pki.client_cert.read_bytes()).public_bytes(Encoding.DER)
        assert transport.get_extra_info("peercert") == client_der
        name, version, bits = transport.get_extra_info("cipher")
        assert (name, version) == (writer.get_extra_info("cipher")[0], "TLSv1.3") and bits in (128, 256)
        assert transport.get_extra_info("alpn_protocol") == HUB_ALPN
        assert transport.get_extra_info("ssl_object") is None
        assert transport.get_extra_info("peername") == writer.get_extra_info("sockname")
        assert transport.get_extra_info("sockname") == ("127.0.0.1", server.port)
        writer.close()


async def test_nothing_of_the_handshake_outlives_it(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[weakref.ref[ServerHandshake], weakref.ref[object]]] = []
    server_handshake = LeanTLSContext.server_handshake

    def recorded(self: LeanTLSContext) -> ServerHandshake:
        handshake = server_handshake(self)
        made.append((weakref.ref(handshake), weakref.ref(handshake._conn)))  # type: ignore[arg-type]
        return handshake

    monkeypatch.setattr(LeanTLSContext, "server_handshake", recorded)
    gc.disable()  # freed by reference counting alone, at once: no cycle waits for the garbage collector
    try:
        async with LeanServer(pki) as server:
            reader, writer = await server.connect(pki.client_context())
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == b"ping"
            [(handshake, openssl_connection)] = made
            assert handshake() is None and openssl_connection() is None
            writer.close()
    finally:
        gc.enable()


async def test_twenty_megabytes_each_way_arrive_intact(pki: Pki) -> None:
    payload = os.urandom(20 * 1024 * 1024)
    async with LeanServer(pki) as server:  # the server echoes
        reader, writer = await server.connect(pki.client_context())
        writer.write(payload)
        echoed = await asyncio.wait_for(reader.readexactly(len(payload)), TIMEOUT)
        assert server.apps[0].received == payload  # type: ignore[attr-defined]
        assert echoed == payload
        writer.close()


async def test_many_small_writes_interleaved_both_ways(pki: Pki) -> None:
    async with LeanServer(pki, app=lambda: Recorder(echo=False)) as server:
        reader, writer = await server.connect(pki.client_context())
        writer.write(b"x")
        while not server.apps or not server.apps[0].received:  # type: ignore[attr-defined]
            await asyncio.sleep(0.005)
        [app] = server.apps
        up, down = [b"x"], []
        for i in range(2000):
            up.append(f"up {i};".encode() * (i % 7 + 1))
            down.append(f"down {i};".encode() * (i % 5 + 1))
            writer.write(up[-1])
            app.transport.write(down[-1])  # type: ignore[attr-defined]
            if i % 50 == 0:
                await asyncio.sleep(0)
        expected_down = b"".join(down)
        assert await asyncio.wait_for(reader.readexactly(len(expected_down)), TIMEOUT) == expected_down
        expected_up = b"".join(up)
        async with asyncio.timeout(TIMEOUT):
            while len(app.received) < len(expected_up):  # type: ignore[attr-defined]
                await asyncio.sleep(0.005)
        assert app.received == expected_up  # type: ignore[attr-defined]
        writer.close()


async def _refusal(server: LeanServer, ctx: ssl.SSLContext) -> str:
    """What the client's TLS reports when the server refuses it (during or just after the handshake)."""
    try:
        reader, writer = await server.connect(ctx)
        data = await asyncio.wait_for(reader.read(100), TIMEOUT)
    except (ssl.SSLError, ConnectionError) as exc:
        return str(exc)
    writer.close()
    return f"not refused: read {data!r}"


@pytest.mark.parametrize(("client", "alert", "reason"), [
    ({"cert": None}, "CERTIFICATE_REQUIRED", "peer did not return a certificate"),
    ({"cert": "foreign"}, "UNKNOWN_CA", "certificate verify failed"),
    ({"alpn": []}, "NO_APPLICATION_PROTOCOL", "did not offer ALPN 'edgeplane-hub/1'"),
    ({"alpn": ["h2", "http/1.1"]}, "NO_APPLICATION_PROTOCOL", "client offered ALPN ['h2', 'http/1.1']"),
    ({"max_version": ssl.TLSVersion.TLSv1_2}, "PROTOCOL_VERSION", "unsupported protocol"),
])
async def test_clients_the_hub_must_not_accept_are_refused_with_an_alert(
        pki: Pki, client: dict[str, object], alert: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "edgeplane.cloudhub.tls")
    async with LeanServer(pki, route=False) as server:
        refusal = await _refusal(server, pki.client_context(**client))  # type: ignore[arg-type]
        assert alert in refusal.upper().replace(" ", "_")
        assert server.apps == []
        async with asyncio.timeout(TIMEOUT):
            while "TLS handshake with 127.0.0.1" not in caplog.text:
                await asyncio.sleep(0.01)
        assert reason in caplog.text


async def test_close_notify_from_the_client(pki: Pki) -> None:
    async with LeanServer(pki) as server:
        reader, writer = await server.connect(pki.client_context())
        writer.write(b"bye")
        assert await asyncio.wait_for(reader.readexactly(3), TIMEOUT) == b"bye"
        writer.close()
        await writer.wait_closed()
        [app] = server.apps
        assert await asyncio.wait_for(app.lost, TIMEOUT) is None  # type: ignore[attr-defined]
        assert app.eof  # type: ignore[attr-defined]


async def test_close_from_the_server_sends_pending_data_then_close_notify(pki: Pki) -> None:
    async with LeanServer(pki, app=lambda: Recorder(echo=False)) as server:
        client = RawTLSClient(pki.client_context())
        await client.connect(server.port)
        await client.handshake()
        await client.send_raw(client.seal(b"hello"))
        async with asyncio.timeout(TIMEOUT):
            while not server.apps or not server.apps[0].received:  # type: ignore[attr-defined]
                await asyncio.sleep(0.005)
        transport = server.apps[0].transport  # type: ignore[attr-defined]
        transport.write(b"last words " * 10000)
        transport.close()
        assert transport.is_closing()
        transport.write(b"dropped: written after close")
        assert await client.read_until_closed() == b"last words " * 10000
        client.close()


async def test_data_right_behind_the_clients_finished_is_not_lost(pki: Pki) -> None:
    async with LeanServer(pki) as server:
        client = RawTLSClient(pki.client_context())
        await client.connect(server.port)
        finished = await client.handshake(send_last_flight=False)
        await client.send_raw(finished + client.seal(b"first") + client.seal(b" second"))  # one segment
        async with asyncio.timeout(TIMEOUT):
            while not server.apps or len(server.apps[0].received) < 12:  # type: ignore[attr-defined]
                await asyncio.sleep(0.005)
        assert server.apps[0].received == b"first second"  # type: ignore[attr-defined]
        client.close()


async def test_a_tampered_record_ends_the_connection_with_bad_record_mac(
        pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    async with LeanServer(pki) as server:
        client = RawTLSClient(pki.client_context())
        await client.connect(server.port)
        await client.handshake()
        await client.send_raw(client.seal(b"intact"))
        record = bytearray(client.seal(b"tampered on the way"))
        record[10] ^= 0x40
        await client.send_raw(bytes(record))
        with pytest.raises(ssl.SSLError, match=r"(?i)bad.record.mac"):
            await client.read_until_closed()
        [app] = server.apps
        assert app.received == b"intact"  # type: ignore[attr-defined]
        lost = await asyncio.wait_for(app.lost, TIMEOUT)  # type: ignore[attr-defined]
        assert isinstance(lost, ConnectionError) and "failed authentication" in str(lost)
        client.close()


async def test_a_silent_client_is_dropped_after_the_handshake_timeout(pki: Pki) -> None:
    async with LeanServer(pki, route=False, handshake_timeout=0.2) as server:
        client = RawTLSClient(pki.client_context())
        await client.connect(server.port)
        assert await client.read_until_closed(timeout=TIMEOUT) == b""
        assert server.apps == []
        client.close()


@pytest.mark.parametrize(("alpn", "route"), [
    ([HUB_ALPN], "lean"),
    (["h2", "http/1.1"], "stdlib"),  # as kubectl offers
    ([], "stdlib"),
])
async def test_the_client_hello_routes_the_connection_and_stays_unread(
        pki: Pki, alpn: list[str], route: str) -> None:
    async with LeanServer(pki) as server:
        reader, writer = await server.connect(pki.client_context(alpn=alpn))  # the handshake completes
        writer.write(b"over " + route.encode())
        assert await asyncio.wait_for(reader.readexactly(5 + len(route)), TIMEOUT) == b"over " + route.encode()
        assert server.routed == [route]
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == (
            {"lean": HUB_ALPN, "stdlib": "http/1.1"}[route] if alpn else None)
        writer.close()


async def test_a_client_hello_arriving_in_pieces_is_still_routed(pki: Pki) -> None:
    async with LeanServer(pki) as server:
        client = RawTLSClient(pki.client_context())
        await client.connect(server.port)
        with pytest.raises(ssl.SSLWantReadError):
            client.tls.do_handshake()
        hello = client.outgoing.read()
        await client.send_raw(hello[:7])
        await asyncio.sleep(0.05)
        await client.send_raw(hello[7:])
        client.incoming.write(await asyncio.wait_for(asyncio.get_running_loop().sock_recv(client.sock, 65536),
                                                     TIMEOUT))
        await client.handshake()
        assert server.routed == ["lean"]
        client.close()


@pytest.mark.parametrize(("first_bytes", "expected"), [
    (b"GET /version HTTP/1.1\r\nHost: cloud\r\n\r\n", "refused"),
    (b"", "refused"),  # connects and says nothing: the peek gives up
])
async def test_what_is_not_a_client_hello_is_not_routed(pki: Pki, first_bytes: bytes, expected: str) -> None:
    async with LeanServer(pki, peek_timeout=0.2) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(first_bytes)
        async with asyncio.timeout(TIMEOUT):
            while not server.routed:
                await asyncio.sleep(0.01)
        assert server.routed == [expected]
        writer.close()
