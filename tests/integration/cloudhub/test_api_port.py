"""One API port for everything: the listener routes by ALPN between the hub and the HTTP server.

A real CloudProcess on loopback (lean TLS for the hub, as in production); clients over real sockets: the
REST client (what kubectl does), raw hub clients offering ALPN edgeplane-hub/1, an old edge that does
not, the edge's non-TLS reachability probe, and a hub client behind a TCP proxy that goes silent.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port
from edgeplane.cloudhub import protocol
from edgeplane.edge import netprobe
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context
from tests.integration.netproxy import TCPProxy

HEARTBEAT = 0.5


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[CloudProcess]:
    proc = CloudProcess(CloudConfig(data_dir=tmp_path / "cloud", bind_address="127.0.0.1", port=free_port(),
                                    controllers=False, hub_heartbeat=HEARTBEAT))
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


def node_context(proc: CloudProcess, user: str = "system:node:n1", groups: tuple[str, ...] = ("system:nodes",),
                 alpn: list[str] | None = None) -> ssl.SSLContext:
    ca = CertificateAuthority.load(proc.config.data_dir / "pki")
    cert, key = ca.issue_client_cert(user, list(groups))
    ctx = client_ssl_context(ca.cert_pem, cert, key)
    ctx.set_alpn_protocols(alpn if alpn is not None else [protocol.HUB_ALPN])
    return ctx


def hub_url(proc: CloudProcess, port: int | None = None) -> str:
    return f"wss://127.0.0.1:{port or proc.config.port}{protocol.HUB_PATH}"


async def hello(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_bytes(protocol.encode([{"t": protocol.HELLO, "v": 1, "inventory": {}}]))
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert protocol.decode(msg.data) == [{"t": protocol.SYNCED}]


async def test_hub_clients_and_http_clients_share_the_port(cloud: CloudProcess) -> None:
    async with RESTClient.from_kubeconfig(cloud.config.data_dir / "admin.kubeconfig") as client, \
            aiohttp.ClientSession() as http:
        ws = await http.ws_connect(hub_url(cloud), ssl=node_context(cloud))
        assert ws.get_extra_info("ssl_object").selected_alpn_protocol() == protocol.HUB_ALPN
        await hello(ws)
        # Meanwhile the same port serves the Kubernetes API, over HTTP/1.1 for a client offering h2 first.
        names = {ns["metadata"]["name"] for ns in (await client.list("v1", "namespaces"))["items"]}
        assert "default" in names
        h2_first = node_context(cloud, alpn=["h2", "http/1.1"])
        async with http.get(f"{cloud.config.server_url}/version", ssl=h2_first) as response:
            assert response.status == 200 and "gitVersion" in await response.json()
        assert cloud.hub.channels["n1"].session is not None
        await ws.close()


async def test_an_edge_without_the_alpn_is_told_to_offer_it(cloud: CloudProcess) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(hub_url(cloud), ssl=node_context(cloud, alpn=["http/1.1"]))
        assert refused.value.status == 426
        async with http.get(f"{cloud.config.server_url}{protocol.HUB_PATH}",
                            ssl=node_context(cloud, alpn=[])) as response:
            assert response.status == 426
            assert f'"{protocol.HUB_ALPN}"' in await response.text() and "upgrade the edge" in await response.text()


async def test_the_edge_s_non_tls_probe_is_answered_at_once(cloud: CloudProcess) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await netprobe.answers("127.0.0.1", cloud.config.port, patience=2.0)
    assert loop.time() - started < 1.0


async def raw_upgrade(cloud: CloudProcess, ctx: ssl.SSLContext, path: str = protocol.HUB_PATH,
                      headers: str | None = None) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", cloud.config.port, ssl=ctx)
    key = base64.b64encode(os.urandom(16)).decode()
    headers = headers if headers is not None else (f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    writer.write(f"GET {path} HTTP/1.1\r\nHost: cloud\r\n{headers}\r\n".encode())
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def test_upgrade_refusals_say_what_is_wrong(cloud: CloudProcess) -> None:
    ctx = node_context(cloud)
    status, body = await raw_upgrade(cloud, ctx, "/api/v1/namespaces")
    assert status == 404 and f"the edge hub is at {protocol.HUB_PATH}" in body
    status, body = await raw_upgrade(cloud, ctx, headers="")
    assert status == 426 and "Upgrade: websocket" in body
    status, body = await raw_upgrade(cloud, ctx, headers="Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                                         "Sec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n")
    assert status == 400 and "Sec-WebSocket-Key" in body
    status, body = await raw_upgrade(cloud, node_context(cloud, user="alice", groups=("devs",)))
    assert status == 403
    assert body == ("the edge hub serves node identities (system:node:<name> in group system:nodes); "
                    "alice is not one\n")
    assert "alice" not in cloud.hub.channels and "n1" not in cloud.hub.channels


async def test_a_newer_connection_of_the_node_closes_the_older_with_4000(cloud: CloudProcess) -> None:
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(hub_url(cloud), ssl=node_context(cloud))
        await hello(first)
        second = await http.ws_connect(hub_url(cloud), ssl=node_context(cloud))
        await hello(second)
        msg = await asyncio.wait_for(first.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and first.close_code == 4000
        assert msg.extra == "replaced by a newer connection of this node"
        assert cloud.hub.channels["n1"].session is not None
        await second.send_bytes(protocol.encode([{"t": protocol.UP, "seq": 1, "kind": "lease", "body": {}}]))
        reply = protocol.decode((await asyncio.wait_for(second.receive(), 5)).data)
        assert reply[0]["t"] == protocol.UPACK and reply[0]["ok"] == [1]
        await second.close()


async def test_a_message_over_the_frame_limit_closes_with_1009(cloud: CloudProcess) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(hub_url(cloud), ssl=node_context(cloud))
        await hello(ws)
        await ws.send_bytes(b"[" + b" " * protocol.MAX_FRAME + b"]")
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1009
        await asyncio.sleep(0.05)
        assert cloud.hub.channels["n1"].session is None


async def test_a_peer_gone_silent_is_dropped_after_the_heartbeat(cloud: CloudProcess) -> None:
    proxy = TCPProxy("127.0.0.1", cloud.config.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(hub_url(cloud, proxy.port), ssl=node_context(cloud))
            await hello(ws)
            channel = cloud.hub.channels["n1"]
            reading = asyncio.create_task(ws.receive())  # aiohttp answers pings while someone receives
            await asyncio.sleep(HEARTBEAT * 3)  # answering pings keeps it connected
            assert channel.session is not None and not channel.session.closed
            proxy.cut(blackhole=True)  # a NAT that lost its mapping: no FIN, no RST, nothing
            loop = asyncio.get_running_loop()
            cut = loop.time()
            while channel.session is not None:
                # Silent since its last pong before the cut: pinged, then dropped within 1.5 heartbeats.
                assert loop.time() - cut < HEARTBEAT * 2, "the silent peer was not dropped"
                await asyncio.sleep(0.02)
            assert channel.offline_since is not None
            reading.cancel()
    finally:
        proxy.stop()
