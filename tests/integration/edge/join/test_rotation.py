"""Certificate rotation against a real (in-process) cloud: due, done, and refused once the name moved on."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudProcess
from edgeplane.edge.identity import EdgeIdentity, JoinError, JoinOptions, join
from tests.integration.edge.join.conftest import start_cloud, token_maker, url_of


@pytest.fixture
async def short_cloud(tmp_path: Path):
    # 60 s certificates: with the 5-minute back-dating of notBefore, less than a third is left at once.
    cloud = await start_cloud(tmp_path / "cloud", node_cert_lifetime=60)
    yield cloud
    await cloud.stop()


async def test_a_certificate_in_its_last_third_is_rotated(short_cloud: CloudProcess, tmp_path: Path) -> None:
    data = tmp_path / "edge"
    identity = await join(JoinOptions(url_of(short_cloud), await token_maker(short_cloud)(), data, node_name="n1"))
    old = identity.certificate
    assert identity.needs_rotation()
    assert await identity.ensure_fresh() is True

    reloaded = EdgeIdentity.load(data)
    assert reloaded.cert_pem == identity.cert_pem
    assert reloaded.certificate.serial_number != old.serial_number
    assert reloaded.certificate.not_valid_after_utc >= old.not_valid_after_utc
    assert reloaded.key_pem == identity.key_pem  # rotation renews the certificate, not the key
    async with RESTClient(reloaded.server, ca_pem=reloaded.ca_pem, cert_pem=reloaded.cert_pem,
                          key_pem=reloaded.key_pem) as node:
        await node.list("v1", "nodes")  # the new certificate authenticates


async def test_a_fresh_certificate_is_left_alone(cloud: CloudProcess, tmp_path: Path) -> None:
    identity = await join(JoinOptions(url_of(cloud), await token_maker(cloud)(), tmp_path / "edge", node_name="n1"))
    before = identity.cert_pem
    assert not identity.needs_rotation()
    assert 0 < identity.seconds_until_rotation() < 365 * 86400
    assert await identity.ensure_fresh() is False
    assert (tmp_path / "edge" / "pki" / "node.crt").read_bytes() == before


async def test_rotation_is_refused_once_another_key_holds_the_name(
    short_cloud: CloudProcess, tmp_path: Path
) -> None:
    make = token_maker(short_cloud)
    old_machine = await join(JoinOptions(url_of(short_cloud), await make(), tmp_path / "a", node_name="n1"))
    assert short_cloud.kubeconfig is not None
    async with RESTClient.from_kubeconfig(short_cloud.kubeconfig) as admin:
        await admin.create("v1", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        await admin.delete("v1", "nodes", "n1")  # the administrator frees the name ...
    await join(JoinOptions(url_of(short_cloud), await make(), tmp_path / "b", node_name="n1"))  # ... a new machine takes it
    before = (tmp_path / "a" / "pki" / "node.crt").read_bytes()
    with pytest.raises(JoinError, match='refused the certificate rotation: node name "n1" is now held by another key'):
        await old_machine.ensure_fresh()
    assert (tmp_path / "a" / "pki" / "node.crt").read_bytes() == before


async def test_rotation_needs_a_node_certificate_for_the_same_name(cloud: CloudProcess, tmp_path: Path) -> None:
    identity = await join(JoinOptions(url_of(cloud), await token_maker(cloud)(), tmp_path / "edge", node_name="n1"))
    assert cloud.kubeconfig is not None
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as admin:
        with pytest.raises(APIError, match="needs a node client certificate") as err:
            await admin.request("POST", "/edgeplane/v1/rotate", body={"csr": "x"})
        assert err.value.code == 403
    async with RESTClient(identity.server, ca_pem=identity.ca_pem, cert_pem=identity.cert_pem,
                          key_pem=identity.key_pem) as node:
        with pytest.raises(APIError, match='node "n1" may rotate only its own certificate, not "n2"'):
            await node.request("POST", "/edgeplane/v1/rotate", body={"nodeName": "n2", "csr": "x"})
    async with RESTClient(identity.server, ca_pem=identity.ca_pem) as anonymous:
        with pytest.raises(APIError) as err:
            await anonymous.request("POST", "/edgeplane/v1/rotate", body={"csr": "x"})
        assert err.value.code == 401
