"""The podman runtime through the pod manager: a local busybox image, env, volumes, ports, exits, deletion."""

from __future__ import annotations

import asyncio
import io
import shutil
import struct
import subprocess
import tarfile
import urllib.request
import uuid
from pathlib import Path

import pytest

from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.podmanager import PodManager
from edgeplane.edge.runtimes.podman import PodmanRuntime
from tests.conftest import require_binary
from tests.unit.edge.podfixtures import NODE, container, eventually, pod, put, status

IMAGE = "localhost/edgeplane-test-busybox:1"
APPLETS = ("sh", "echo", "cat", "sleep", "httpd", "env", "test", "true")


def busybox_image(podman: str) -> str:
    """Imports a tiny image made of the host's static busybox (Debian busybox-static): no registry needed."""
    if subprocess.run([podman, "image", "exists", IMAGE]).returncode == 0:
        return IMAGE
    busybox = shutil.which("busybox")
    if busybox is None or not _static_elf(Path(busybox).read_bytes()):
        pytest.fail("a static busybox (Debian busybox-static, installed by make test) builds the test image")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    subprocess.run([podman, "import", "--change", "ENV PATH=/bin", "-", IMAGE], input=buf.getvalue(),
                   check=True, capture_output=True)
    return IMAGE


@pytest.fixture
async def podman_manager(tmp_path: Path):
    podman = require_binary("podman")
    require_binary("runc")
    image = await asyncio.to_thread(busybox_image, podman)
    store = MetaStore(tmp_path / "metastore.db")
    runtime = PodmanRuntime(tmp_path, host_ip="192.0.2.10")
    manager = PodManager(store, NODE, runtime, tmp_path, sync_period=0.1, backoff_base=0.5, host_ip="192.0.2.10")
    try:
        await manager.start()
        yield store, manager, image
    finally:
        await manager.stop()
        # Only this test's pods (each has its directory here): others on this host may be another test run's.
        for state in await runtime.list():
            if (runtime.pods_dir / state.pod_uid).is_dir():
                await runtime.remove_pod(state.pod_uid)
        store.close()


def bb(name: str, image: str, script: str, **extra) -> dict:
    return {"name": name, "image": image, "command": ["sh", "-c", script], **extra}


async def test_podman_pod_env_volume_port_and_deletion(podman_manager, unused_tcp_port):
    store, manager, image = podman_manager
    put(store, "configmaps", {"metadata": {"name": "site"}, "data": {"index.html": "hello from a configmap"}})
    p = put(store, "pods", pod("web", bb("web", image, "echo started $GREETING; exec httpd -f -p 8080 -h /www",
                                         env=[{"name": "GREETING", "value": "hi"}],
                                         ports=[{"containerPort": 8080, "hostPort": unused_tcp_port}],
                                         volumeMounts=[{"name": "site", "mountPath": "/www", "readOnly": True}]),
                               volumes=[{"name": "site", "configMap": {"name": "site"}}]))
    await eventually(lambda: status(store, "web").get("phase") == "Running", timeout=30)
    c = container(store, "web", "web")
    assert c["containerID"].startswith("podman://") and c["ready"] and c["image"] == image
    assert status(store, "web")["podIP"] not in ("", "192.0.2.10")

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{unused_tcp_port}/index.html", timeout=2) as r:
            return r.read().decode()

    body = await eventually(lambda: _try(fetch), timeout=10)
    assert body == "hello from a configmap"
    uid = p["metadata"]["uid"]
    current, _ = manager.runtime.log_paths(uid, "web")
    assert current is not None and "stdout F started hi" in current.read_text()
    # Graceful deletion: stopped, then confirmed.
    put(store, "pods", {**p, "metadata": {**p["metadata"], "deletionTimestamp": "2030-01-01T00:00:00Z",
                                          "deletionGracePeriodSeconds": 1}})
    await eventually(lambda: [e for e in store.outbox() if e.kind == "podDeleted"], timeout=20)
    assert "terminated" in container(store, "web", "web")["state"]


async def test_podman_exit_codes_restarts_and_bad_images(podman_manager):
    store, _, image = podman_manager
    put(store, "pods", pod("fails", bb("c", image, "exit 7"), restartPolicy="OnFailure"))
    put(store, "pods", pod("noimage", bb("c", f"localhost/missing-{uuid.uuid4().hex[:8]}:1", "true",
                                         imagePullPolicy="Never")))
    c = await eventually(lambda: container(store, "fails", "c").get("restartCount", 0) >= 1
                         and container(store, "fails", "c").get("lastState"), timeout=30)
    assert c["terminated"]["exitCode"] == 7 and c["terminated"]["reason"] == "Error"
    waiting = await eventually(lambda: container(store, "noimage", "c").get("state", {}).get("waiting"), timeout=20)
    assert waiting["reason"] == "ErrImageNeverPull" and "missing" in waiting["message"]


def _static_elf(data: bytes) -> bool:
    """A 64-bit little-endian ELF without a PT_INTERP program header (no dynamic loader needed)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def _try(fn):
    try:
        return fn()
    except OSError:
        return None


async def test_podman_nodes_on_one_host_leave_each_others_containers_alone(podman_manager, tmp_path_factory):
    """A second node's pod manager starting up (it removes containers it holds no pod for) must not touch ours."""
    store, _, image = podman_manager
    put(store, "pods", pod("mine", bb("c", image, "exec sleep 300")))
    await eventually(lambda: status(store, "mine").get("phase") == "Running", timeout=30)
    other_dir = tmp_path_factory.mktemp("other-node")
    other_store = MetaStore(other_dir / "metastore.db")
    other_runtime = PodmanRuntime(other_dir, host_ip="192.0.2.11")
    other = PodManager(other_store, "other-node", other_runtime, other_dir, sync_period=0.1, host_ip="192.0.2.11")
    await other.start()
    try:
        assert await other_runtime.list() == []
        await asyncio.sleep(0.5)  # a few of its sync rounds
    finally:
        await other.stop()
        other_store.close()
    uid = next(iter(store.list("pods")))["metadata"]["uid"]
    state = await podman_manager[1].runtime.inspect(uid, "c")
    assert state is not None and state.running and status(store, "mine").get("phase") == "Running"
