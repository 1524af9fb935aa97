"""The cloud hub and the edge hub client over a real TLS WebSocket, with an in-process cloud and metastore.

The cloud is the real CloudProcess (API server, store, hub) on a loopback port; the edge is a HubClient on
a real MetaStore with a certificate for system:node:<name> issued by the cloud's CA.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edgeplane.api import errors
from edgeplane.client.local import LocalClient
from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port
from edgeplane.cloudhub import protocol
from edgeplane.edge.hubclient import Backoff, HubClient
from edgeplane.edge.metastore import MetaStore
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context


def hub_context(ca: CertificateAuthority, cert: bytes, key: bytes) -> ssl.SSLContext:
    """A raw hub client's TLS context: the node's certificate, offering the hub's ALPN as every edge does."""
    ctx = client_ssl_context(ca.cert_pem, cert, key)
    ctx.set_alpn_protocols([protocol.HUB_ALPN])
    return ctx


async def eventually(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Cloud:
    def __init__(self, proc: CloudProcess) -> None:
        self.proc = proc
        self.client = LocalClient(proc.api.ctx)
        self.ca = CertificateAuthority.load(proc.config.data_dir / "pki")

    @property
    def url(self) -> str:
        return self.proc.config.server_url

    def edge(self, data_dir: Path, node: str = "n1", user: str | None = None,
             groups: tuple[str, ...] = ("system:nodes",)) -> Edge:
        cert, key = self.ca.issue_client_cert(user or f"system:node:{node}", list(groups))
        ms = MetaStore(data_dir / "metastore.db")
        client = HubClient(ms, self.url, lambda: hub_context(self.ca, cert, key),
                           heartbeat=5.0, backoff=Backoff(0.05, 0.2))
        return Edge(ms, client)


class Edge:
    def __init__(self, ms: MetaStore, client: HubClient) -> None:
        self.ms = ms
        self.client = client
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Edge:
        self.task = asyncio.create_task(self.client.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.ms.close()


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    proc = CloudProcess(CloudConfig(data_dir=tmp_path / "cloud", bind_address="127.0.0.1", port=free_port(),
                                    controllers=False, hub_heartbeat=5.0))
    await proc.start()
    try:
        yield Cloud(proc)
    finally:
        await proc.stop()


def pod_body(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox", **spec}]}}


async def test_node_gets_its_pods_and_what_they_use_and_nothing_else(cloud: Cloud, tmp_path: Path) -> None:
    c = cloud.client
    await c.create("v1", "configmaps", {"metadata": {"name": "used"}, "data": {"k": "v"}}, "default")
    await c.create("v1", "configmaps", {"metadata": {"name": "unused"}, "data": {"k": "v"}}, "default")
    await c.create("v1", "secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, "default")
    await c.create("v1", "pods", pod_body("mine", "n1", envFrom=[{"configMapRef": {"name": "used"}}],
                                          env=[{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]),
                   "default")
    await c.create("v1", "pods", pod_body("other", "n2"), "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await asyncio.wait_for(edge.client.synced.wait(), 5)
        await eventually(lambda: edge.ms.get("secrets", "default", "s"), what="the secret")
        assert set(edge.ms.inventory()) == {"pods/default/mine", "configmaps/default/used", "secrets/default/s"}
        # A later pod referencing another ConfigMap brings it along; deleting the pod takes both away.
        await c.create("v1", "pods", pod_body("second", "n1", envFrom=[{"configMapRef": {"name": "unused"}}]),
                       "default")
        await eventually(lambda: edge.ms.get("configmaps", "default", "unused"), what="the second ConfigMap")
        await c.delete("v1", "pods", "second", "default", grace_period_seconds=0)
        await eventually(lambda: edge.ms.get("configmaps", "default", "unused") is None, what="ConfigMap removal")
        assert edge.ms.get("pods", "default", "second") is None
        assert edge.ms.get("configmaps", "default", "used") is not None  # still used by "mine"


async def test_updates_while_offline_arrive_as_latest_versions_and_deletions(cloud: Cloud, tmp_path: Path) -> None:
    c = cloud.client
    await c.create("v1", "configmaps", {"metadata": {"name": "cfg"}, "data": {"v": "0"}}, "default")
    await c.create("v1", "pods", pod_body("p", "n1", envFrom=[{"configMapRef": {"name": "cfg"}}]), "default")
    await c.create("v1", "pods", pod_body("gone", "n1"), "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await eventually(lambda: len(edge.ms.inventory()) == 3, what="initial sync")
    # Offline: many updates, one deletion.
    for i in range(1, 30):
        await c.patch("v1", "configmaps", "cfg", {"data": {"v": str(i)}}, "default")
    await c.delete("v1", "pods", "gone", "default", grace_period_seconds=0)
    latest = await c.get("v1", "configmaps", "cfg", "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await asyncio.wait_for(edge.client.synced.wait(), 5)
        await eventually(lambda: (edge.ms.get("configmaps", "default", "cfg") or {}).get("data") == {"v": "29"},
                         what="the latest ConfigMap")
        await eventually(lambda: edge.ms.get("pods", "default", "gone") is None, what="the deletion")
        versions = [rv for rv, _ in edge.ms.applied_versions("configmaps", "default", "cfg")]
        # Coalesced: the offline updates arrived as the latest version alone.
        assert versions[-1] == int(latest["metadata"]["resourceVersion"])
        assert len(versions) == 2


async def test_status_lease_registration_and_events_go_up_with_acks(cloud: Cloud, tmp_path: Path) -> None:
    c = cloud.client
    async with cloud.edge(tmp_path / "edge") as edge:
        edge.ms.report_registration({"labels": {"zone": "a"}, "nodepool": "pool-a"})
        node = await eventually(lambda: _get(c, "v1", "nodes", "n1"), what="the Node")
        assert node["metadata"]["labels"]["zone"] == "a"
        assert node["metadata"]["labels"]["apps.openyurt.io/nodepool"] == "pool-a"
        assert node["metadata"]["annotations"]["node.openyurt.io/autonomy-duration"] == "0"
        lease = await eventually(lambda: _get(c, "coordination.k8s.io/v1", "leases", "n1", "kube-node-lease"),
                                 what="the Lease")
        assert lease["spec"]["holderIdentity"] == "n1"
        await eventually(lambda: edge.ms.get("nodes", "", "n1"), what="the Node downstream")
        edge.ms.report_status("nodes", "", "n1", {"capacity": {"cpu": "2", "pods": "110"}})
        await c.create("v1", "pods", pod_body("p", "n1"), "default")
        await eventually(lambda: edge.ms.get("pods", "default", "p"), what="the pod downstream")
        edge.ms.report_status("pods", "default", "p", {"phase": "Running", "podIP": "10.0.0.1"})
        edge.ms.report_event({"metadata": {"name": "p.1", "namespace": "default"}, "reason": "Started",
                              "message": "started", "involvedObject": {"kind": "Pod", "name": "p"}})
        await eventually(lambda: edge.ms.outbox_size() == 0, what="every upstream entry acknowledged")
        pod = await c.get("v1", "pods", "p", "default")
        assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "10.0.0.1"
        node = await c.get("v1", "nodes", "n1")
        assert node["status"]["capacity"]["cpu"] == "2"
        assert (await c.get("v1", "events", "p.1", "default"))["reason"] == "Started"


async def test_pod_deletion_is_confirmed_by_the_edge_then_removed_locally(cloud: Cloud, tmp_path: Path) -> None:
    c = cloud.client
    await c.create("v1", "pods", pod_body("p", "n1"), "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await eventually(lambda: edge.ms.get("pods", "default", "p"), what="the pod")
        await c.delete("v1", "pods", "p", "default")  # graceful: the pod stays until the node confirms
        held = await eventually(lambda: (edge.ms.get("pods", "default", "p") or {}).get("metadata", {})
                                .get("deletionTimestamp"), what="deletionTimestamp at the edge")
        assert held
        assert await _get(c, "v1", "pods", "p", "default") is not None
        uid = edge.ms.get("pods", "default", "p")["metadata"]["uid"]
        edge.ms.confirm_pod_deleted("default", "p", uid)
        await eventually(lambda: _absent(c, "v1", "pods", "p", "default"), what="the pod gone in the cloud")
        await eventually(lambda: edge.ms.get("pods", "default", "p") is None, what="the pod gone at the edge")


async def test_a_node_may_not_write_another_nodes_objects(cloud: Cloud, tmp_path: Path) -> None:
    c = cloud.client
    await c.create("v1", "pods", pod_body("foreign", "n2"), "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await asyncio.wait_for(edge.client.connected.wait(), 5)
        edge.ms.report_status("nodes", "", "n2", {"capacity": {"cpu": "64"}})
        edge.ms.confirm_pod_deleted("default", "foreign", (await c.get("v1", "pods", "foreign", "default"))
                                    ["metadata"]["uid"])
        # Refused entries are dropped (not retried forever), and nothing changed in the cloud.
        await eventually(lambda: edge.ms.outbox_size() == 0, what="refusals acknowledged")
        assert await _get(c, "v1", "nodes", "n2") is None
        assert await _get(c, "v1", "pods", "foreign", "default") is not None


async def test_only_node_identities_may_connect(cloud: Cloud, tmp_path: Path) -> None:
    async with cloud.edge(tmp_path / "edge", user="alice", groups=("devs",)) as edge:
        await eventually(lambda: "403" in edge.client.last_error, what="a 403 refusal")
        assert not edge.client.connected.is_set()


async def test_a_new_connection_replaces_the_old_one(cloud: Cloud, tmp_path: Path) -> None:
    async with cloud.edge(tmp_path / "a") as first:
        await asyncio.wait_for(first.client.connected.wait(), 5)
        async with cloud.edge(tmp_path / "b") as second:
            await asyncio.wait_for(second.client.connected.wait(), 5)
            channel = cloud.proc.hub.channels["n1"]
            await eventually(lambda: first.client.last_error and channel.session is not None,
                             what="the first connection closed")
            assert "4000" in first.client.last_error


async def _get(c: LocalClient, api_version: str, resource: str, name: str, ns: str = "") -> dict | None:
    try:
        return await c.get(api_version, resource, name, ns)
    except errors.APIError as exc:
        if exc.code == 404:
            return None
        raise


async def _absent(c: LocalClient, api_version: str, resource: str, name: str, ns: str = "") -> bool:
    return await _get(c, api_version, resource, name, ns) is None


async def test_a_slow_edge_does_not_hold_up_the_others(cloud: Cloud, tmp_path: Path) -> None:
    """An edge that stops reading fills its own socket; other nodes keep getting their changes at once."""
    c = cloud.client
    blob = "x" * 900_000
    for i in range(40):  # 36 MB for the slow node: far more than the socket buffers hold
        await c.create("v1", "configmaps", {"metadata": {"name": f"big{i}"}, "data": {"blob": blob}}, "default")
    await c.create("v1", "pods", pod_body("slow-pod", "slow",
                                          envFrom=[{"configMapRef": {"name": f"big{i}"}} for i in range(40)]),
                   "default")
    cert, key = cloud.ca.issue_client_cert("system:node:slow", ["system:nodes"])
    async with aiohttp.ClientSession() as http:
        url = cloud.url.replace("https://", "wss://") + protocol.HUB_PATH
        slow = await http.ws_connect(url, ssl=hub_context(cloud.ca, cert, key),
                                     max_msg_size=protocol.MAX_FRAME)
        await slow.send_bytes(protocol.encode([{"t": protocol.HELLO, "v": 1, "inventory": {}}]))
        # The slow edge never reads from here on.
        async with cloud.edge(tmp_path / "fast", node="fast") as fast:
            await asyncio.wait_for(fast.client.synced.wait(), 5)
            for i in range(5):
                started = asyncio.get_running_loop().time()
                await c.create("v1", "pods", pod_body(f"fast-{i}", "fast"), "default")
                await eventually(lambda i=i: fast.ms.get("pods", "default", f"fast-{i}"), 2, what="fast delivery")
                assert asyncio.get_running_loop().time() - started < 1.0
        # Held back, not lost: once the slow edge reads, everything it needs arrives.
        keys: set[str] = set()
        while "pods/default/slow-pod" not in keys or len(keys) < 41:
            msg = await asyncio.wait_for(slow.receive(), 10)
            keys.update(m["key"] for m in protocol.decode(msg.data) if m["t"] == protocol.OBJ)
        assert keys == {"pods/default/slow-pod"} | {f"configmaps/default/big{i}" for i in range(40)}
        await slow.close()


@pytest.mark.parametrize("frame", [
    b"not json",
    b'{"t": "hello"}',
    b'[{"t": "ack", "acks": []}]',  # before hello
    b'[{"t": "hello", "v": 1, "inventory": {"pods-without-slashes": 3}}]',
    b'[{"t": "hello", "v": 1, "inventory": {}}, {"t": "ack", "acks": [["k"]]}]',
    b'[{"t": "hello", "v": 1, "inventory": {}}, {"t": "bogus"}]',
])
async def test_protocol_violations_close_the_connection_with_a_reason(cloud: Cloud, frame: bytes) -> None:
    cert, key = cloud.ca.issue_client_cert("system:node:bad", ["system:nodes"])
    async with aiohttp.ClientSession() as http:
        url = cloud.url.replace("https://", "wss://") + protocol.HUB_PATH
        ws = await http.ws_connect(url, ssl=hub_context(cloud.ca, cert, key))
        await ws.send_bytes(frame)
        while (msg := await asyncio.wait_for(ws.receive(), 5)).type == aiohttp.WSMsgType.BINARY:
            pass  # e.g. "synced" after a valid hello
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1002 and msg.extra


async def test_a_restarted_cloud_rebuilds_what_the_edge_holds_from_its_hello(tmp_path: Path) -> None:
    config = CloudConfig(data_dir=tmp_path / "cloud", bind_address="127.0.0.1", port=free_port(),
                         controllers=False, hub_heartbeat=5.0)
    proc = CloudProcess(config)
    await proc.start()
    cloud = Cloud(proc)
    c = cloud.client
    await c.create("v1", "configmaps", {"metadata": {"name": "cfg"}, "data": {"v": "0"}}, "default")
    await c.create("v1", "pods", pod_body("a", "n1", envFrom=[{"configMapRef": {"name": "cfg"}}]), "default")
    await c.create("v1", "pods", pod_body("b", "n1"), "default")
    async with cloud.edge(tmp_path / "edge") as edge:
        await eventually(lambda: len(edge.ms.inventory()) == 3, what="initial sync")
        await proc.stop()
        proc = CloudProcess(config)  # same store, fresh memory
        await proc.start()
        try:
            c = LocalClient(proc.api.ctx)
            await eventually(lambda: proc.hub.channels.get("n1") and proc.hub.channels["n1"].session, 10,
                             what="the edge reconnected")
            assert proc.hub.channels["n1"].acked == edge.ms.inventory()
            await c.patch("v1", "configmaps", "cfg", {"data": {"v": "1"}}, "default")
            await c.delete("v1", "pods", "b", "default", grace_period_seconds=0)
            await eventually(lambda: (edge.ms.get("configmaps", "default", "cfg") or {}).get("data") == {"v": "1"},
                             what="the update after the restart")
            await eventually(lambda: edge.ms.get("pods", "default", "b") is None, what="the deletion")
            assert [rv for rv, _ in edge.ms.applied_versions("pods", "default", "a")] == [
                int((await c.get("v1", "pods", "a", "default"))["metadata"]["resourceVersion"])]
        finally:
            await proc.stop()
