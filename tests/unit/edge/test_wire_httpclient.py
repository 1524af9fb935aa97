"""The edge's one-shot HTTPS client (what joining and rotation use) against a real aiohttp server."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from edgeplane.edge.wire import httpclient
from edgeplane.edge.wire.errors import WireError
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[tuple[str, CertificateAuthority]]:
    ca = CertificateAuthority.generate()
    cert, key = ca.issue_server_cert(tmp_path, "server", ["127.0.0.1"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"method": request.method, "body": (await request.read()).decode(),
                                  "auth": request.headers.get("Authorization", ""), "query": dict(request.query)},
                                 status=201)

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)  # chunked, no length known up front
        for _ in range(10):
            await response.write(b"x" * (1024 * 1024))
        return response

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    yield f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", ca  # type: ignore[union-attr]
    await runner.cleanup()


async def test_status_and_body_of_a_post(cloud: tuple[str, CertificateAuthority]) -> None:
    url, ca = cloud
    answer = await httpclient.request("POST", url + "/echo?x=1", body=b'{"a":1}',
                                      headers=[("Authorization", "Bearer t")], ssl_context=client_ssl_context(ca.cert_pem))
    assert answer.status == 201 and answer.reason == "Created"
    assert json.loads(answer.body) == {"method": "POST", "body": '{"a":1}', "auth": "Bearer t", "query": {"x": "1"}}


async def test_a_server_of_another_ca_is_a_certificate_error(cloud: tuple[str, CertificateAuthority]) -> None:
    url, _ = cloud
    with pytest.raises(ssl.SSLCertVerificationError):
        await httpclient.request("GET", url + "/echo",
                                 ssl_context=client_ssl_context(CertificateAuthority.generate().cert_pem))


async def test_an_answer_over_the_limit_is_refused(cloud: tuple[str, CertificateAuthority],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = cloud
    monkeypatch.setattr(httpclient, "MAX_BODY", 4 * 1024 * 1024)
    with pytest.raises(WireError, match="longer than"):
        await httpclient.request("GET", url + "/big", ssl_context=client_ssl_context(ca.cert_pem))


async def test_nothing_listening_or_not_http() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await httpclient.request("GET", f"http://127.0.0.1:{closed}/")

    async def babble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(babble, "127.0.0.1", 0)
    try:
        with pytest.raises(WireError, match="not valid HTTP"):
            await httpclient.request("GET", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
    finally:
        server.close()
