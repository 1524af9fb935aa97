"""What a joined node's certificate may write: its own pods' status, its own Node and Lease, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudProcess
from edgeplane.edge.identity import JoinOptions, join
from tests.integration.edge.join.conftest import MakeToken, url_of


@pytest.fixture
async def node_a(cloud: CloudProcess, make_token: MakeToken, tmp_path: Path) -> AsyncIterator[RESTClient]:
    identity = await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "a", node_name="node-a"))
    async with RESTClient(identity.server, ca_pem=identity.ca_pem, cert_pem=identity.cert_pem,
                          key_pem=identity.key_pem) as client:
        yield client


def _pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}


def _lease(name: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40}}


async def _forbidden(call: Any) -> str:
    with pytest.raises(APIError) as err:
        await call
    assert err.value.code == 403, err.value.message
    return err.value.message


async def test_node_patches_status_of_its_own_pods_only(admin: RESTClient, node_a: RESTClient) -> None:
    await admin.create("v1", "pods", _pod("mine", "node-a"), "default")
    await admin.create("v1", "pods", _pod("theirs", "node-b"), "default")
    running = {"status": {"phase": "Running"}}

    patched = await node_a.patch("v1", "pods", "mine", running, "default", subresource="status")
    assert patched["status"]["phase"] == "Running"
    message = await _forbidden(node_a.patch("v1", "pods", "theirs", running, "default", subresource="status"))
    assert "theirs" in message
    await _forbidden(node_a.patch("v1", "pods", "mine", {"metadata": {"labels": {"x": "y"}}}, "default"))
    await _forbidden(node_a.delete("v1", "pods", "theirs", "default"))


async def test_node_creates_and_updates_its_own_node_only(admin: RESTClient, node_a: RESTClient) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": {"site": "n"}}}
    created = await node_a.create("v1", "nodes", node)
    created["metadata"]["labels"]["site"] = "s"
    assert (await node_a.update("v1", "nodes", created))["metadata"]["labels"]["site"] == "s"
    await node_a.patch("v1", "nodes", "node-a", {"status": {"addresses": [{"type": "Hostname", "address": "a"}]}},
                       subresource="status")

    await _forbidden(node_a.create("v1", "nodes", {**node, "metadata": {"name": "node-b"}}))
    other = await admin.create("v1", "nodes", {**node, "metadata": {"name": "node-b"}})
    await _forbidden(node_a.update("v1", "nodes", other))
    await _forbidden(node_a.delete("v1", "nodes", "node-a"))


async def test_node_creates_and_renews_its_own_lease_only(node_a: RESTClient) -> None:
    ns = "kube-node-lease"
    lease = await node_a.create("coordination.k8s.io/v1", "leases", _lease("node-a"), ns)
    lease["spec"]["renewTime"] = "2030-01-01T00:00:00.000000Z"
    await node_a.update("coordination.k8s.io/v1", "leases", lease, ns)

    await _forbidden(node_a.create("coordination.k8s.io/v1", "leases", _lease("node-b"), ns))
    await _forbidden(node_a.create("coordination.k8s.io/v1", "leases", _lease("node-a"), "default"))
