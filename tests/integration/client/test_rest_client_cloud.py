"""The REST client against a real `edgeplane cloud` process, with the identities the PKI hands out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.pki.ca import CertificateAuthority
from tests.integration.cloudproc import Cloud

TOKEN = "integration-token-0123456789"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("rest-client")
    tokens = base / "tokens.csv"
    tokens.write_text(f'{TOKEN},dev-user,1001,"devs"\n')
    c = Cloud(base / "data").start("--token-auth-file", str(tokens))
    yield c
    c.stop()


@pytest.fixture
async def admin(cloud: Cloud) -> AsyncIterator[RESTClient]:
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as client:
        yield client


def _node_client(cloud: Cloud, node: str) -> RESTClient:
    ca = CertificateAuthority.load(cloud.data_dir / "pki")
    cert_pem, key_pem = ca.issue_client_cert(f"system:node:{node}", ["system:nodes"], days=1)
    return RESTClient(cloud.url, ca_pem=ca.cert_pem, cert_pem=cert_pem, key_pem=key_pem)


def _configmap(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "1"},
    }


async def test_crud_round_trip(admin: RESTClient) -> None:
    created = await admin.create("v1", "configmaps", _configmap("crud", app="web"), "default")
    assert created["metadata"]["uid"]

    got = await admin.get("v1", "configmaps", "crud", "default")
    assert got["data"] == {"k": "1"}

    listed = await admin.list("v1", "configmaps", "default", label_selector="app=web")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["crud"]

    got["data"]["k"] = "2"
    updated = await admin.update("v1", "configmaps", got, "default")
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    stale = {
        **got,
        "metadata": {**got["metadata"], "resourceVersion": created["metadata"]["resourceVersion"]},
    }
    with pytest.raises(APIError) as conflict:
        await admin.update("v1", "configmaps", stale, "default")
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")

    patched = await admin.patch("v1", "configmaps", "crud", {"data": {"extra": "x"}}, "default")
    assert patched["data"] == {"k": "2", "extra": "x"}

    await admin.delete("v1", "configmaps", "crud", "default")
    with pytest.raises(APIError) as missing:
        await admin.get("v1", "configmaps", "crud", "default")
    assert (missing.value.code, missing.value.reason) == (404, "NotFound")


async def test_watch_sees_changes_after_the_list(admin: RESTClient) -> None:
    listed = await admin.list("v1", "configmaps", "default")
    events: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event in admin.watch(
            "v1", "configmaps", "default", resource_version=listed["metadata"]["resourceVersion"]
        ):
            if event["type"] != "BOOKMARK":
                events.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                return

    watcher = asyncio.create_task(watch())
    await admin.create("v1", "configmaps", _configmap("watched"), "default")
    await admin.patch("v1", "configmaps", "watched", {"data": {"k": "2"}}, "default")
    await admin.delete("v1", "configmaps", "watched", "default")
    await asyncio.wait_for(watcher, 10)

    assert events == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


async def test_token_user_is_authenticated_but_not_authorized(cloud: Cloud) -> None:
    ca_pem = (cloud.data_dir / "pki" / "ca.crt").read_bytes()
    async with RESTClient(cloud.url, ca_pem=ca_pem, token=TOKEN) as dev:
        await dev.request("GET", "/apis")  # discovery is open to every authenticated user
        with pytest.raises(APIError) as denied:
            await dev.list("v1", "secrets", "default")
    assert (denied.value.code, denied.value.reason) == (403, "Forbidden")
    assert 'User "dev-user" cannot list resource "secrets"' in denied.value.message


async def test_no_credentials_is_unauthorized(cloud: Cloud) -> None:
    ca_pem = (cloud.data_dir / "pki" / "ca.crt").read_bytes()
    async with RESTClient(cloud.url, ca_pem=ca_pem) as nobody:
        with pytest.raises(APIError) as denied:
            await nobody.list("v1", "namespaces")
    assert denied.value.code == 401


async def test_a_node_may_write_its_own_status_only(cloud: Cloud, admin: RESTClient) -> None:
    for name in ("edge-a", "edge-b"):
        await admin.create("v1", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}

    async with _node_client(cloud, "edge-a") as node:
        assert (await node.get("v1", "nodes", "edge-b"))["metadata"]["name"] == "edge-b"
        own = await node.patch("v1", "nodes", "edge-a", ready, subresource="status")
        assert own["status"]["conditions"][0]["type"] == "Ready"
        with pytest.raises(APIError) as denied:
            await node.patch("v1", "nodes", "edge-b", ready, subresource="status")
        with pytest.raises(APIError) as delete_denied:
            await node.delete("v1", "nodes", "edge-a")

    assert denied.value.code == 403
    assert delete_denied.value.code == 403


async def test_certificate_from_another_ca_cannot_connect(cloud: Cloud) -> None:
    ca_pem = (cloud.data_dir / "pki" / "ca.crt").read_bytes()
    cert_pem, key_pem = CertificateAuthority.generate().issue_client_cert(
        "edgeplane-admin", ["system:masters"]
    )
    async with RESTClient(cloud.url, ca_pem=ca_pem, cert_pem=cert_pem, key_pem=key_pem) as intruder:
        with pytest.raises(aiohttp.ClientError):  # the TLS handshake fails: no HTTP status at all
            await intruder.list("v1", "namespaces")
