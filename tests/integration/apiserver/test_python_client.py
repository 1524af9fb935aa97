"""The official `kubernetes` Python client against `edgeplane cloud`, unchanged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.integration.cloudproc import Cloud


@pytest.fixture(scope="module")
def api(cloud: Cloud) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cloud.kubeconfig))
    yield api_client
    api_client.close()


def _pod(name: str, labels: dict[str, str]) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox:1.36",
                                                             command=["sleep", "3600"])]),
    )


def test_create_list_patch_delete(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    for i, tier in enumerate(["web", "web", "db"]):
        created = core.create_namespaced_pod("py", _pod(f"p{i}", {"tier": tier, "app": "shop"}))
        assert created.metadata.uid and created.status.phase == "Pending"
        assert created.spec.restart_policy == "Always"  # defaulted by the server

    web = core.list_namespaced_pod("py", label_selector="tier=web")
    assert sorted(p.metadata.name for p in web.items) == ["p0", "p1"]
    not_web = core.list_namespaced_pod("py", label_selector="app=shop,tier notin (web)")
    assert [p.metadata.name for p in not_web.items] == ["p2"]
    by_name = core.list_namespaced_pod("py", field_selector="metadata.name=p1")
    assert [p.metadata.name for p in by_name.items] == ["p1"]

    patched = core.patch_namespaced_pod("p0", "py", {"metadata": {"labels": {"tier": "cache"}}})
    assert patched.metadata.labels["tier"] == "cache"
    assert int(patched.metadata.resource_version) > int(web.items[0].metadata.resource_version)

    core.delete_namespaced_pod("p2", "py")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("p2", "py")
    assert exc.value.status == 404

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("py", _pod("p0", {}))
    assert exc.value.status == 409 and "AlreadyExists" in exc.value.body


def test_update_with_a_stale_resource_version_conflicts(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="occ"), data={"v": "1"}))
    stale = cm.metadata.resource_version
    cm.data = {"v": "2"}
    core.replace_namespaced_config_map("occ", "default", cm)
    cm.data = {"v": "3"}
    cm.metadata.resource_version = stale
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("occ", "default", cm)
    assert exc.value.status == 409 and "the object has been modified" in exc.value.body
    assert core.read_namespaced_config_map("occ", "default").data == {"v": "2"}


def test_watch_stream_on_pods(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pywatch")))
    seen: list[tuple[str, str, str]] = []
    w = watch.Watch()
    started = threading.Event()

    def consume() -> None:
        started.set()
        for event in w.stream(core.list_namespaced_pod, "pywatch", timeout_seconds=20):
            obj = event["object"]
            seen.append((event["type"], obj.metadata.name, (obj.metadata.labels or {}).get("a", "")))
            if event["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    started.wait()
    time.sleep(1.0)
    core.create_namespaced_pod("pywatch", _pod("w1", {"a": "b"}))
    core.patch_namespaced_pod("w1", "pywatch", {"metadata": {"labels": {"a": "c"}}})
    core.delete_namespaced_pod("w1", "pywatch")
    t.join(25)
    # Controllers may add their own changes (the scheduler's PodScheduled condition); ours are all there, in order.
    assert seen[0] == ("ADDED", "w1", "b")
    assert ("MODIFIED", "w1", "c") in seen
    assert seen[-1][:2] == ("DELETED", "w1")
    assert all(name == "w1" for _, name, _ in seen)


def test_apps_and_custom_objects(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    dep = apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyweb"},
        "spec": {"selector": {"matchLabels": {"app": "pyweb"}},
                 "template": {"metadata": {"labels": {"app": "pyweb"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    })
    assert dep.spec.replicas == 1 and dep.spec.strategy.type == "RollingUpdate"
    assert dep.metadata.generation == 1
    scale = apps.patch_namespaced_deployment_scale("pyweb", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment("pyweb", "default").metadata.generation == 2
