"""Logs and exec of a podman pod on an edge node (a local busybox image: no registry needed)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, create_token, wait_for
from tests.integration.edge.runtimes.test_runtime_podman import busybox_image
from tests.integration.operate.cluster import Kubectl, phase


@pytest.fixture(scope="module")
def podman_edge(cloud: Cloud, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeNode]:
    require_binary("runc")
    image = busybox_image(require_binary("podman"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "boxed", "namespace": "default"},
           "spec": {"nodeName": "op-podman", "restartPolicy": "Never",
                    "containers": [{"name": "box", "image": image, "imagePullPolicy": "Never",
                                    "command": ["sh", "-c", "echo boxed one; echo boxed two >&2; exec sleep 100000"]}]}}
    # The node's reset removes the container, whatever state the tests leave it in; the cloud goes with the module.
    with EdgeNode(tmp_path_factory.mktemp("podman-edge") / "edge", cloud.url, pod["spec"]["nodeName"]) as node:
        node.join(create_token(cloud), "--runtime", "podman")
        kubectl("apply", "-f", "-", input=json.dumps(pod))
        wait_for(lambda: phase(kubectl, "boxed") == "Running", 60, f"the podman pod Running\n{node.log()}")
        yield node


def test_podman_logs(kubectl: Kubectl, podman_edge: EdgeNode) -> None:
    wait_for(lambda: kubectl("logs", "boxed") == "boxed one\nboxed two\n", 10, "the podman pod's log")
    assert kubectl("logs", "boxed", "--tail=1") == "boxed two\n"
    stamped = kubectl("logs", "boxed", "--timestamps").splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["boxed one", "boxed two"]
    assert all(line.split(" ", 1)[0].endswith("Z") for line in stamped)


def test_podman_exec(kubectl: Kubectl, podman_edge: EdgeNode) -> None:
    done = kubectl.run("exec", "boxed", "--", "sh", "-c", "echo in-$HOSTNAME; echo err >&2; exit 4")
    assert done.returncode == 4
    assert done.stdout.startswith("in-") and done.stderr.startswith("err\n")
    assert kubectl("exec", "-i", "boxed", "--", "cat", input="piped through podman\n") == "piped through podman\n"


def test_podman_exec_with_a_terminal(kubectl: Kubectl, podman_edge: EdgeNode, cloud: Cloud, tmp_path) -> None:
    tmux = [require_binary("tmux"), "-S", str(tmp_path / "tmux.sock")]
    command = f"env KUBECONFIG={cloud.kubeconfig} {kubectl.binary} exec -it boxed -- sh"
    try:
        subprocess.run([*tmux, "new-session", "-d", "-s", "box", "-x", "90", "-y", "25", command], check=True)

        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "box"], capture_output=True, text=True).stdout

        subprocess.run([*tmux, "send-keys", "-t", "box", "echo tty-$((2*21)); stty size", "Enter"], check=True)
        wait_for(lambda: "tty-42" in screen() and "25 90" in screen(), 20, "output in the terminal")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
