"""Port-forward to an HTTP server in an edge pod: `edgeplane port-forward`, and kubectl's clear refusal."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from tests.integration.cloudproc import Cloud, free_port, kubectl_env
from tests.integration.edge.edgeproc import EdgeNode
from tests.integration.operate.cluster import Kubectl, PodTracker, create_pod, pod_manifest, wait_running


@pytest.fixture(scope="module")
def web_port(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker, tmp_path_factory: pytest.TempPathFactory) -> int:
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("hello from the edge pod\n")
    port = free_port()
    script = f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1 --directory {site}"
    create_pod(kubectl, pod_manifest("web", edge.node_name, script, pods.directory))
    wait_running(kubectl, "web", edge)
    return port


@pytest.fixture
def forward(cloud: Cloud, web_port: int) -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", "port-forward", "web", f":{web_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**kubectl_env(cloud), "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("Forwarding from 127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"port-forward did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    yield int(line.split(":")[1].split()[0])
    proc.terminate()
    proc.wait(10)


def test_edgeplane_port_forward_serves_http_requests(forward: int, web_port: int) -> None:
    for _ in range(3):  # each request is a new connection, so a new stream to the edge
        with urllib.request.urlopen(f"http://127.0.0.1:{forward}/index.html", timeout=10) as response:
            assert response.status == 200
            assert response.read() == b"hello from the edge pod\n"


def test_port_forward_to_a_closed_port_fails_clearly(cloud: Cloud, web_port: int) -> None:
    closed = free_port()
    done = subprocess.run([sys.executable, "-m", "edgeplane.cli", "port-forward", "web", f":{closed}"],
                          capture_output=True, text=True, timeout=30, env=kubectl_env(cloud))
    assert done.returncode == 1
    assert f"error forwarding port {closed} to pod web" in done.stderr


def test_kubectl_port_forward_is_refused_with_a_pointer(kubectl: Kubectl, web_port: int) -> None:
    done = kubectl.run("port-forward", "web", f"{free_port()}:{web_port}", timeout=30)
    assert done.returncode != 0
    assert "edgeplane port-forward" in done.stderr


def test_python_client_portforward(cloud: Cloud, web_port: int) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    api = client.CoreV1Api(config.new_client_from_config(str(cloud.kubeconfig)))
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(web_port))
    sock = pf.socket(web_port)
    sock.setblocking(True)
    sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    sock.close()
    assert received.startswith(b"HTTP/1.0 200") and received.endswith(b"hello from the edge pod\n")
    assert pf.error(web_port) is None
