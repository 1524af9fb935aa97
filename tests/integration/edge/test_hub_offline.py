"""Cloud and edge as separate OS processes, the network between them cut and restored by a TCP proxy.

These tests watch the edge's metastore and the cloud's API: registration, the Lease, delivery while the
link is down and flapping, and convergence after it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeplane.api import errors
from edgeplane.client.rest import RESTClient
from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, create_token
from tests.integration.netproxy import TCPProxy


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("hubcloud") / "data").start()
    yield c
    c.stop()


@pytest.fixture
def proxy(cloud: Cloud) -> Iterator[TCPProxy]:
    p = TCPProxy("127.0.0.1", cloud.port).start()
    yield p
    p.stop()


@pytest.fixture
def edge(cloud: Cloud, proxy: TCPProxy, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EdgeNode]:
    name = "edge-" + request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    with EdgeNode(tmp_path / "edge", f"https://127.0.0.1:{proxy.port}", name) as node:
        node.join(create_token(cloud), "--labels", "zone=lab,tier=edge", "--nodepool", "pool-a")
        yield node


async def _get(client: RESTClient, api_version: str, resource: str, name: str, ns: str = "") -> dict | None:
    try:
        return await client.get(api_version, resource, name, ns)
    except errors.APIError as exc:
        if exc.code == 404:
            return None
        raise


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def pod(name: str, node: str, configmap: str = "") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}
    if configmap:
        container["envFrom"] = [{"configMapRef": {"name": configmap}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [container]}}


async def test_join_registers_the_node_and_renews_its_lease(cloud: Cloud, edge: EdgeNode) -> None:
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as c:
        node = await until(lambda: _get(c, "v1", "nodes", edge.node_name), 30, f"Node {edge.node_name}\n{edge.log()}")
        labels = node["metadata"]["labels"]
        assert labels["zone"] == "lab" and labels["tier"] == "edge"
        assert labels["apps.openyurt.io/nodepool"] == "pool-a"
        assert node["metadata"]["annotations"]["node.openyurt.io/autonomy-duration"] == "0"
        lease = await until(lambda: _get(c, "coordination.k8s.io/v1", "leases", edge.node_name, "kube-node-lease"),
                            10, "the node's Lease")
        first = lease["spec"]["renewTime"]
        renewed = await until(
            lambda: _renewed_after(c, edge.node_name, first), 10, "a Lease renewal")
        assert renewed > first


async def _renewed_after(c: RESTClient, node: str, before: str) -> str | None:
    lease = await _get(c, "coordination.k8s.io/v1", "leases", node, "kube-node-lease")
    renew = lease["spec"]["renewTime"] if lease else ""
    return renew if renew > before else None


async def test_changes_while_cut_off_converge_after_restore(cloud: Cloud, proxy: TCPProxy, edge: EdgeNode) -> None:
    ns = "default"
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as c:
        await until(lambda: _get(c, "v1", "nodes", edge.node_name), 30, f"registration\n{edge.log()}")
        await c.create("v1", "configmaps", {"metadata": {"name": "offline-cfg"}, "data": {"v": "0"}}, ns)
        for name in ("keep", "drop"):
            await c.create("v1", "pods", pod(f"offline-{name}", edge.node_name, "offline-cfg"), ns)
        await until(lambda: edge.held("pods", ns, "offline-drop"), 10, "the pods at the edge")

        proxy.cut(blackhole=True)  # a dead link: only keepalives notice
        await asyncio.sleep(1.0)
        for i in range(1, 11):
            await c.patch("v1", "configmaps", "offline-cfg", {"data": {"v": str(i)}}, ns)
        await c.delete("v1", "pods", "offline-drop", ns, grace_period_seconds=0)
        await asyncio.sleep(1.0)
        assert edge.held("configmaps", ns, "offline-cfg")["data"] == {"v": "0"}  # really cut off
        assert edge.held("pods", ns, "offline-drop") is not None

        proxy.restore()
        restored = time.monotonic()
        await until(lambda: (edge.held("configmaps", ns, "offline-cfg") or {}).get("data") == {"v": "10"}, 15,
                    f"the latest ConfigMap at the edge\n{edge.log()}")
        await until(lambda: edge.held("pods", ns, "offline-drop") is None, 5, "the deleted pod gone at the edge")
        assert time.monotonic() - restored < 10
        assert edge.held("pods", ns, "offline-keep") is not None
        assert edge.alive()


async def test_configmap_updates_while_the_link_flaps(cloud: Cloud, proxy: TCPProxy, edge: EdgeNode) -> None:
    """100 quick updates while the connection drops every 2 s: the edge ends with the last version and never
    applied an older version after a newer one."""
    ns = "default"
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as c:
        await until(lambda: _get(c, "v1", "nodes", edge.node_name), 30, f"registration\n{edge.log()}")
        await c.create("v1", "configmaps", {"metadata": {"name": "flap-cfg"}, "data": {"v": "0"}}, ns)
        await c.create("v1", "pods", pod("flap-user", edge.node_name, "flap-cfg"), ns)
        await until(lambda: edge.held("configmaps", ns, "flap-cfg"), 10, "the ConfigMap at the edge")

        async def flap() -> None:
            while True:
                await asyncio.sleep(2.0)
                proxy.cut()
                await asyncio.sleep(0.5)
                proxy.restore()

        flapper = asyncio.create_task(flap())
        try:
            for i in range(1, 101):
                await c.patch("v1", "configmaps", "flap-cfg", {"data": {"v": str(i)}}, ns)
                await asyncio.sleep(0.06)
        finally:
            flapper.cancel()
            await asyncio.gather(flapper, return_exceptions=True)
            proxy.restore()
        assert proxy.connections_made >= 3, "the link should have flapped during the updates"
        last = await c.get("v1", "configmaps", "flap-cfg", ns)
        await until(lambda: (edge.held("configmaps", ns, "flap-cfg") or {}).get("data") == {"v": "100"}, 15,
                    f"the last version at the edge\n{edge.log()}")
        versions = edge.applied_versions("configmaps", ns, "flap-cfg")
        assert versions == sorted(versions) and len(set(versions)) == len(versions), versions
        assert versions[-1] == int(last["metadata"]["resourceVersion"])
