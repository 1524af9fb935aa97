"""Joining a real (in-process) cloud over TLS: the identity written, and what the cloud records."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudProcess
from edgeplane.cloudhub.nodekeys import RECORD_NAMESPACE, record_name
from edgeplane.edge.identity import EdgeIdentity, JoinError, JoinOptions, join
from tests.integration.edge.join.conftest import MakeToken, url_of


async def test_join_writes_a_working_identity(
    cloud: CloudProcess, admin: RESTClient, make_token: MakeToken, tmp_path: Path
) -> None:
    data = tmp_path / "edge"
    options = JoinOptions(url_of(cloud), await make_token(), data, node_name="edge-1",
                          labels={"site": "north"}, nodepool="pool-a")
    joined = await join(options)

    loaded = EdgeIdentity.load(data)
    assert (loaded.server, loaded.node_name) == (url_of(cloud), "edge-1")
    assert loaded.config == {"server": url_of(cloud), "nodeName": "edge-1", "runtime": "process",
                             "labels": {"site": "north"}, "nodepool": "pool-a"}
    assert loaded.cert_pem == joined.cert_pem
    assert loaded.ca_pem == (cloud.config.data_dir / "pki" / "ca.crt").read_bytes()
    assert stat.S_IMODE((data / "pki" / "node.key").stat().st_mode) == 0o600
    subject = loaded.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:edge-1"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert not [p.name for p in data.iterdir() if p.name.startswith(".")]  # no staging left behind

    # The certificate authenticates as the node: it may read nodes, and is refused what nodes may not do.
    async with RESTClient(loaded.server, ca_pem=loaded.ca_pem, cert_pem=loaded.cert_pem,
                          key_pem=loaded.key_pem) as node:
        await node.list("v1", "nodes")
        with pytest.raises(APIError, match="forbidden"):
            await node.create("v1", "configmaps", {"metadata": {"name": "x"}}, "default")
    # The cloud recorded which key holds the name.
    record = await admin.get("v1", "secrets", record_name("edge-1"), RECORD_NAMESPACE)
    assert record["type"] == "edgeplane.io/node-key"


async def test_rejoin_from_the_same_data_dir_keeps_the_key(
    cloud: CloudProcess, admin: RESTClient, make_token: MakeToken, tmp_path: Path
) -> None:
    data = tmp_path / "edge"
    first = await join(JoinOptions(url_of(cloud), await make_token(), data, node_name="edge-1"))
    await admin.create("v1", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-1"}})
    again = await join(JoinOptions(url_of(cloud), await make_token(), data, node_name="edge-1"))
    assert again.key_pem == first.key_pem
    assert again.cert_pem != first.cert_pem


async def test_node_name_held_by_another_key_is_refused(
    cloud: CloudProcess, admin: RESTClient, make_token: MakeToken, tmp_path: Path
) -> None:
    await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "a", node_name="edge-1"))
    await admin.create("v1", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-1"}})

    with pytest.raises(JoinError, match='node name "edge-1" is held by another key') as refused:
        await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "b", node_name="edge-1"))
    assert "kubectl delete node edge-1" in str(refused.value)
    assert not (tmp_path / "b").exists()

    # Deleting the Node frees the name for the new machine.
    await admin.delete("v1", "nodes", "edge-1")
    await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "b", node_name="edge-1"))
    assert EdgeIdentity.load(tmp_path / "b").node_name == "edge-1"


async def test_join_into_an_existing_directory_adds_only_the_identity(
    cloud: CloudProcess, make_token: MakeToken, tmp_path: Path
) -> None:
    data = tmp_path / "edge"
    data.mkdir()
    (data / "keep.txt").write_text("operator's file")
    await join(JoinOptions(url_of(cloud), await make_token(), data, node_name="edge-1"))
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt", "node.json", "pki"]
    assert EdgeIdentity.load(data).node_name == "edge-1"
