from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from edgeplane.client.rest import RESTClient
from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud, kubectl_env
from tests.integration.controllers.scheduling.cluster import Cluster, unique_namespace

# Test modules set the node monitor grace period `edgeplane cloud` runs with by defining this fixture.
GRACE_PERIOD = "40s"


@pytest.fixture(scope="module")
def grace_period() -> str:
    return GRACE_PERIOD


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, grace_period: str) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("cloud") / "data").start("--node-monitor-grace-period", grace_period)
    yield c
    c.stop()


Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def kubectl(cloud: Cloud) -> Kubectl:
    binary = require_binary("kubectl")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=kubectl_env(cloud))
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
async def cluster(cloud: Cloud) -> AsyncIterator[Cluster]:
    async with RESTClient.from_kubeconfig(cloud.kubeconfig) as api:
        namespace = unique_namespace()
        await api.create("v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": namespace}})
        c = Cluster(api, namespace)
        try:
            yield c
        finally:
            await c.close()
