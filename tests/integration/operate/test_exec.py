"""`kubectl exec` (with and without a terminal), `kubectl attach` and the Python client's `stream()`."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, wait_for
from tests.integration.operate.cluster import Kubectl, PodTracker, create_pod, pod_manifest, wait_running


@pytest.fixture(scope="module")
def shell_pod(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> str:
    create_pod(kubectl, pod_manifest("shell", edge.node_name, "echo ready; exec sleep 100000", pods.directory,
                                     container={"env": [{"name": "GREETING", "value": "from-the-pod"}]}))
    wait_running(kubectl, "shell", edge)
    return "shell"


def test_exec_prints_both_streams_and_exits_with_the_code(kubectl: Kubectl, shell_pod: str) -> None:
    done = kubectl.run("exec", shell_pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert done.stderr.startswith("err\n")


def test_exec_runs_in_the_pods_directory_and_environment(kubectl: Kubectl, shell_pod: str) -> None:
    out = kubectl("exec", shell_pod, "--", "sh", "-c", 'echo "$GREETING $HOSTNAME"; pwd')
    lines = out.splitlines()
    assert lines[0] == f"from-the-pod {shell_pod}"
    assert lines[1].endswith("/rootfs/main")  # the container's root directory, where the pod runs


def test_exec_with_stdin(kubectl: Kubectl, shell_pod: str) -> None:
    out = kubectl("exec", "-i", shell_pod, "--", "sh", "-c", "tr a-z A-Z", input="hello edge\n")
    assert out == "HELLO EDGE\n"


def test_exec_of_a_missing_command_fails_clearly(kubectl: Kubectl, shell_pod: str) -> None:
    failed = kubectl.run("exec", shell_pod, "--", "no-such-command-here")
    assert failed.returncode != 0
    assert "no-such-command-here" in failed.stderr


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    binary = require_binary("tmux")
    base = [binary, "-S", str(tmp_path / "tmux.sock")]
    yield base
    subprocess.run([*base, "kill-server"], capture_output=True)


def _screen(tmux: list[str]) -> str:
    return subprocess.run([*tmux, "capture-pane", "-p", "-t", "op"], capture_output=True, text=True).stdout


def test_interactive_shell_in_a_terminal(kubectl: Kubectl, cloud: Cloud, shell_pod: str, tmux: list[str]) -> None:
    command = f"env KUBECONFIG={cloud.kubeconfig} {shutil.which('kubectl')} exec -it {shell_pod} -- sh"
    subprocess.run([*tmux, "new-session", "-d", "-s", "op", "-x", "100", "-y", "30", command], check=True)
    subprocess.run([*tmux, "send-keys", "-t", "op", "echo sum-$((40+2))", "Enter"], check=True)
    wait_for(lambda: "sum-42" in _screen(tmux), 15, "the command's output in the terminal")
    subprocess.run([*tmux, "send-keys", "-t", "op", "stty size", "Enter"], check=True)
    wait_for(lambda: "30 100" in _screen(tmux), 10, f"the terminal size\n{_screen(tmux)}")
    subprocess.run([*tmux, "resize-window", "-t", "op", "-x", "120", "-y", "40"], check=True)
    time.sleep(0.5)
    subprocess.run([*tmux, "send-keys", "-t", "op", "clear; stty size", "Enter"], check=True)
    wait_for(lambda: "40 120" in _screen(tmux), 10, f"the resized terminal\n{_screen(tmux)}")
    subprocess.run([*tmux, "send-keys", "-t", "op", "exit", "Enter"], check=True)
    wait_for(lambda: subprocess.run([*tmux, "has-session", "-t", "op"], capture_output=True).returncode != 0,
             10, "kubectl to exit with the shell")


def test_attach_shows_the_containers_output(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> None:
    script = "i=0; while true; do i=$$((i+1)); echo beat $$i; sleep 0.2; done"
    create_pod(kubectl, pod_manifest("beater", edge.node_name, script, pods.directory))
    wait_running(kubectl, "beater", edge)
    attached = kubectl.popen("attach", "beater", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert attached.stdout is not None
    first = attached.stdout.readline()
    second = attached.stdout.readline()
    attached.send_signal(2)
    attached.wait(10)
    assert first.startswith("beat ") and second.startswith("beat ")
    assert int(second.split()[1]) == int(first.split()[1]) + 1


def test_python_client_stream_exec(cloud: Cloud, shell_pod: str) -> None:
    api = client.CoreV1Api(config.new_client_from_config(str(cloud.kubeconfig)))
    out = stream(api.connect_get_namespaced_pod_exec, shell_pod, "default",
                 command=["sh", "-c", "echo python-$((6*7))"], stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "python-42\n"
    resp = stream(api.connect_get_namespaced_pod_exec, shell_pod, "default",
                  command=["sh", "-c", "echo to-err >&2; exit 5"], stderr=True, stdin=False, stdout=True,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.read_stderr() == "to-err\n"
    assert resp.returncode == 5
