"""An in-process cloud (API server with the join endpoints, no controllers) on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port
from edgeplane.pki.bootstraptoken import TOKEN_NAMESPACE, BootstrapToken, JoinToken
from edgeplane.pki.cahash import ca_cert_hash

MakeToken = Callable[..., Awaitable[str]]


async def start_cloud(data_dir: Path, node_cert_lifetime: float = 365 * 86400.0) -> CloudProcess:
    cloud = CloudProcess(CloudConfig(data_dir=data_dir, bind_address="127.0.0.1", port=free_port(),
                                     controllers=False, node_cert_lifetime=node_cert_lifetime))
    await cloud.start()
    return cloud


def url_of(cloud: CloudProcess) -> str:
    return cloud.config.server_url


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[CloudProcess]:
    c = await start_cloud(tmp_path / "cloud")
    yield c
    await c.stop()


@pytest.fixture
async def admin(cloud: CloudProcess) -> AsyncIterator[RESTClient]:
    assert cloud.kubeconfig is not None
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as client:
        yield client


def token_maker(cloud: CloudProcess) -> MakeToken:
    async def make(ttl: timedelta | None = timedelta(hours=1)) -> str:
        token = BootstrapToken.generate(ttl, "test")
        assert cloud.kubeconfig is not None
        async with RESTClient.from_kubeconfig(cloud.kubeconfig) as client:
            await client.create("v1", "secrets", token.to_secret(), TOKEN_NAMESPACE)
        ca_pem = (cloud.config.data_dir / "pki" / "ca.crt").read_bytes()
        return str(JoinToken(ca_cert_hash(ca_pem), token))

    return make


@pytest.fixture
def make_token(cloud: CloudProcess) -> MakeToken:
    return token_maker(cloud)
