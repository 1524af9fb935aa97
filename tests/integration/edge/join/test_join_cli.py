"""The join commands as a user runs them: `edgeplane cloud`, `token`, `join`, `edge` and `reset` as OS processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeplane.edge.identity import EdgeIdentity
from tests.integration.cloudproc import Cloud

EDGE_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "EDGEPLANE_METASERVER_PORT": "0"}


def edgeplane(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeplane.cli", *args], capture_output=True, text=True,
                          input=input, env=EDGE_ENV, timeout=60)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("join-cli") / "cloud").start()
    yield c
    c.stop()


def _kubectl(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    return subprocess.run(["kubectl", "--kubeconfig", str(cloud.kubeconfig), *args], capture_output=True,
                          text=True, env=env, timeout=30)


def _wait_for_node(cloud: Cloud, name: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the edge process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        got = _kubectl(cloud, "get", "node", name, "-o",
                       "jsonpath={.metadata.annotations.node\\.openyurt\\.io/autonomy-duration}")
        if got.returncode == 0:
            return got.stdout
        time.sleep(0.2)
    raise AssertionError(f"node {name} never registered:\n{log.read_text()[-3000:]}")


def _run_until_registered(cloud: Cloud, args: list[str], name: str, log: Path) -> str:
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=EDGE_ENV)
    try:
        return _wait_for_node(cloud, name, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()[-3000:]


def test_token_join_edge_reset(cloud: Cloud, tmp_path: Path) -> None:
    if not Path("/usr/bin/kubectl").exists() and not any(
        (Path(p) / "kubectl").exists() for p in os.environ.get("PATH", "").split(os.pathsep)
    ):
        pytest.skip("kubectl is not installed")
    created = edgeplane("token", "create", "--data-dir", str(cloud.data_dir), "--ttl", "1h", "--description", "cli")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    token_id = token.split("::")[1].split(".")[0]
    listed = edgeplane("token", "list", "--data-dir", str(cloud.data_dir))
    assert token_id in listed.stdout and "cli" in listed.stdout

    data = tmp_path / "edge"
    joined = _run_until_registered(
        cloud, ["join", "--server", cloud.url, "--token", token, "--node-name", "cli-node", "--data-dir", str(data),
                "--labels", "site=north"], "cli-node", tmp_path / "join.log")
    assert joined == "0"  # joined nodes are autonomous by default
    assert EdgeIdentity.load(data).config["labels"] == {"site": "north"}
    assert "site=north" in _kubectl(cloud, "get", "node", "cli-node", "--show-labels").stdout

    # Restart from the data directory alone, after the token is gone: the node registers itself again.
    assert edgeplane("token", "delete", token, "--data-dir", str(cloud.data_dir)).returncode == 0
    assert token_id not in edgeplane("token", "list", "--data-dir", str(cloud.data_dir)).stdout
    assert _kubectl(cloud, "delete", "node", "cli-node").returncode == 0
    _run_until_registered(cloud, ["edge", "--data-dir", str(data)], "cli-node", tmp_path / "edge.log")

    # A join with the deleted token fails with a clear message and writes nothing.
    again = edgeplane("join", "--server", cloud.url, "--token", token, "--node-name", "other",
                      "--data-dir", str(tmp_path / "other"))
    assert again.returncode == 1
    assert "join failed: the cloud at" in again.stderr and "bootstrap token is not valid" in again.stderr
    assert not (tmp_path / "other").exists()

    reset = edgeplane("reset", "--data-dir", str(data), "--yes")
    assert reset.returncode == 0, reset.stderr
    assert "kubectl delete node cli-node" in reset.stdout
    assert f"removed {data / 'pki'}/" in reset.stdout
    assert list(data.iterdir()) == []
    assert "does not look like an edge node" in edgeplane("reset", "--data-dir", str(data), "--yes").stderr


def test_reset_refuses_a_cloud_data_directory(cloud: Cloud) -> None:
    result = edgeplane("reset", "--data-dir", str(cloud.data_dir), "--yes")
    assert result.returncode == 1
    assert "is a cloud data directory" in result.stderr
    assert cloud.kubeconfig.exists()


def test_edge_without_a_join_says_how_to_join(tmp_path: Path) -> None:
    result = edgeplane("edge", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "holds no edge node identity" in result.stderr and "edgeplane join" in result.stderr


def test_token_create_needs_the_admin_kubeconfig(tmp_path: Path) -> None:
    result = edgeplane("token", "create", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "admin.kubeconfig does not exist" in result.stderr
