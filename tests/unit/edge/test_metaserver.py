"""The metaserver read by the official kubernetes Python client: get, list with selectors, watch, read-only."""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path

import aiohttp
import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

from edgeplane.edge.metaserver import MetaServer
from edgeplane.edge.metastore import MetaStore
from tests.unit.edge.podfixtures import pod, put, sh


@pytest.fixture
async def served(tmp_path: Path):
    store = MetaStore(tmp_path / "metastore.db")
    server = MetaServer(store, port=0)
    await server.start()
    config = k8s.Configuration()
    config.host = f"http://127.0.0.1:{server.port}"
    api = k8s.ApiClient(config)
    yield store, server, k8s.CoreV1Api(api)
    api.close()
    await server.stop()
    store.close()


async def test_get_and_list_with_selectors(served):
    store, _, core = served
    web = pod("web", sh("c", "sleep 1"))
    web["metadata"]["labels"] = {"app": "web", "tier": "front"}
    put(store, "pods", web)
    db = pod("db", sh("c", "sleep 1"))
    db["metadata"]["labels"] = {"app": "db"}
    db["metadata"]["namespace"] = "data"
    db["status"]["phase"] = "Running"
    put(store, "pods", db)
    put(store, "secrets", {"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": base64.b64encode(b"v").decode()}})
    put(store, "nodes", {"metadata": {"name": "edge-1", "labels": {"zone": "a"}}, "spec": {}})

    got = await asyncio.to_thread(core.read_namespaced_pod, "web", "default")
    assert got.metadata.labels == {"app": "web", "tier": "front"} and got.spec.containers[0].command[0] == "sh"
    every = await asyncio.to_thread(core.list_pod_for_all_namespaces)
    assert [p.metadata.name for p in every.items] == ["db", "web"]
    assert int(every.metadata.resource_version) >= 1
    selected = await asyncio.to_thread(core.list_pod_for_all_namespaces, label_selector="app in (web),tier")
    assert [p.metadata.name for p in selected.items] == ["web"]
    running = await asyncio.to_thread(core.list_pod_for_all_namespaces, field_selector="status.phase=Running")
    assert [p.metadata.name for p in running.items] == ["db"]
    in_ns = await asyncio.to_thread(core.list_namespaced_pod, "data")
    assert [p.metadata.name for p in in_ns.items] == ["db"]
    secret = await asyncio.to_thread(core.read_namespaced_secret, "s", "default")
    assert base64.b64decode(secret.data["k"]) == b"v"
    node = await asyncio.to_thread(core.read_node, "edge-1")
    assert node.metadata.labels == {"zone": "a"}

    with pytest.raises(ApiException) as missing:
        await asyncio.to_thread(core.read_namespaced_pod, "nope", "default")
    assert missing.value.status == 404 and '"reason":"NotFound"' in missing.value.body.replace(" ", "")
    with pytest.raises(ApiException) as bad:
        await asyncio.to_thread(core.list_pod_for_all_namespaces, label_selector="a in (")
    assert bad.value.status == 400
    with pytest.raises(ApiException) as unknown:
        await asyncio.to_thread(core.list_pod_for_all_namespaces, field_selector="spec.bogus=1")
    assert unknown.value.status == 400 and "spec.bogus" in unknown.value.body


async def test_read_only(served):
    _, _, core = served
    with pytest.raises(ApiException) as refused:
        await asyncio.to_thread(core.create_namespaced_config_map, "default",
                                k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="x")))
    assert refused.value.status == 405 and "read-only" in refused.value.body


async def test_discovery(served):
    _, server, _ = served
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        async with http.get("/api/v1") as r:
            resources = {x["name"]: x for x in (await r.json())["resources"]}
        assert resources["pods"]["namespaced"] and not resources["nodes"]["namespaced"]
        assert resources["pods"]["verbs"] == ["get", "list", "watch"]
        async with http.get("/apis") as r:
            assert "coordination.k8s.io" in [g["name"] for g in (await r.json())["groups"]]
        async with http.get("/version") as r:
            assert (await r.json())["major"] == "1"


async def test_watch_with_the_official_client(served):
    store, _, core = served
    put(store, "configmaps", {"metadata": {"name": "before", "labels": {"w": "y"}}, "data": {}})
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def watch() -> None:
        w = k8s_watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, "default", label_selector="w=y", timeout_seconds=5):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
        done.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    # The client lists first, then watches from the list's resourceVersion.
    for _ in range(100):
        await asyncio.sleep(0.05)
        if server_watching(served[1]):
            break
    put(store, "configmaps", {"metadata": {"name": "ignored", "labels": {"w": "n"}}, "data": {}})
    after = put(store, "configmaps", {"metadata": {"name": "after", "labels": {"w": "y"}}, "data": {}})
    store.remove("configmaps", "default", "after", after["metadata"]["uid"])
    await asyncio.to_thread(done.wait, 6)
    assert seen == [("ADDED", "before"), ("ADDED", "after"), ("DELETED", "after")]


def server_watching(server: MetaServer) -> bool:
    return bool(server._watches)


async def test_watch_resumes_from_resource_version(served):
    store, server, _ = served
    put(store, "pods", pod("old", sh("c", "x")))
    listed = store.version("pods", "default", "old")
    put(store, "pods", pod("new", sh("c", "x")))
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        async with http.get("/api/v1/pods", params={"watch": "1", "resourceVersion": str(listed),
                                                    "timeoutSeconds": "1"}) as r:
            lines = [line async for line in r.content]
    import json
    assert [json.loads(x)["object"]["metadata"]["name"] for x in lines] == ["new"]
