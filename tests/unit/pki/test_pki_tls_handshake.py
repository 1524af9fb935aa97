"""Real TLS on loopback: the server context, the client context and the authenticator working together."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from edgeplane.apiserver.auth import Authenticator
from edgeplane.pki.admin import ensure_admin_kubeconfig
from edgeplane.pki.ca import CertificateAuthority, server_ssl_context
from edgeplane.pki.kubeconfig import load_kubeconfig
from edgeplane.pki.tls import client_ssl_context


@dataclass
class WhoAmIServer:
    """A tiny HTTPS server answering /whoami with the authenticated user, or 401."""

    url: str
    ca: CertificateAuthority
    authenticator: Authenticator
    handled: list[str] = field(default_factory=list)


async def _start(
    ca: CertificateAuthority, pki_dir: Path, authenticator: Authenticator
) -> tuple[web.AppRunner, str, list[str]]:
    cert_file, key_file = ca.issue_server_cert(pki_dir, "apiserver", [])
    handled: list[str] = []

    async def whoami(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        peercert = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        user = authenticator.authenticate(peercert, request.headers.get("Authorization"))
        handled.append(request.path)
        if user is None:
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        return web.json_response({"name": user.name, "groups": list(user.groups)})

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(ca, cert_file, key_file))
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"https://{host}:{port}", handled


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[WhoAmIServer]:
    ca = CertificateAuthority.load_or_create(tmp_path / "pki")
    authenticator = Authenticator(None)
    authenticator.add_token("s3cret-token", "robot", groups=("bots",))
    runner, url, handled = await _start(ca, tmp_path / "pki", authenticator)
    try:
        yield WhoAmIServer(url, ca, authenticator, handled)
    finally:
        await runner.cleanup()


async def _get(
    url: str, ctx: ssl.SSLContext, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/whoami", ssl=ctx, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json()


async def test_admin_client_certificate_is_accepted(server: WhoAmIServer) -> None:
    cert_pem, key_pem = server.ca.issue_client_cert("edgeplane-admin", ["system:masters"])

    status, body = await _get(server.url, client_ssl_context(server.ca.cert_pem, cert_pem, key_pem))

    assert status == 200
    assert body == {"name": "edgeplane-admin", "groups": ["system:masters", "system:authenticated"]}


async def test_certificate_from_another_ca_fails_the_handshake(server: WhoAmIServer) -> None:
    cert_pem, key_pem = CertificateAuthority.generate("intruder").issue_client_cert(
        "edgeplane-admin", ["system:masters"]
    )

    with pytest.raises(aiohttp.ClientError):
        await _get(server.url, client_ssl_context(server.ca.cert_pem, cert_pem, key_pem))
    assert server.handled == []


async def test_no_certificate_completes_the_handshake_and_is_refused_without_a_token(
    server: WhoAmIServer,
) -> None:
    status, body = await _get(server.url, client_ssl_context(server.ca.cert_pem))

    assert (status, body["code"]) == (401, 401)
    assert server.handled == ["/whoami"]


async def test_no_certificate_with_a_bearer_token_is_that_user(server: WhoAmIServer) -> None:
    status, body = await _get(
        server.url, client_ssl_context(server.ca.cert_pem), {"Authorization": "Bearer s3cret-token"}
    )

    assert status == 200
    assert body == {"name": "robot", "groups": ["bots", "system:authenticated"]}


async def test_no_certificate_is_anonymous_when_allowed(tmp_path: Path) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "pki")
    runner, url, _ = await _start(ca, tmp_path / "pki", Authenticator(None, allow_anonymous=True))
    try:
        status, body = await _get(url, client_ssl_context(ca.cert_pem))
    finally:
        await runner.cleanup()

    assert status == 200
    assert body == {"name": "system:anonymous", "groups": ["system:unauthenticated"]}


async def test_client_trusting_another_ca_rejects_the_server(server: WhoAmIServer) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await _get(server.url, client_ssl_context(CertificateAuthority.generate().cert_pem))


async def test_official_kubernetes_client_connects_with_the_admin_kubeconfig(
    server: WhoAmIServer, tmp_path: Path
) -> None:
    path = ensure_admin_kubeconfig(tmp_path, server.url, server.ca)
    assert load_kubeconfig(path)["server"] == server.url

    def whoami() -> object:
        cfg = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=str(path), client_configuration=cfg)
        with k8s_client.ApiClient(cfg) as api:
            return api.call_api("/whoami", "GET", response_type="object", _return_http_data_only=True)

    body = await asyncio.to_thread(whoami)

    assert body == {"name": "edgeplane-admin", "groups": ["system:masters", "system:authenticated"]}
