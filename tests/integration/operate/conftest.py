"""One cloud and one edge node (process runtime) per test module, as real OS processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, create_token, wait_for
from tests.integration.operate.cluster import Kubectl, PodTracker


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("operate") / "data").start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def kubectl(cloud: Cloud) -> Kubectl:
    return Kubectl(cloud)


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodTracker]:
    tracker = PodTracker(tmp_path_factory.mktemp("pids"))
    yield tracker
    tracker.kill_all()


@pytest.fixture(scope="module")
def edge(cloud: Cloud, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest, pods: PodTracker) -> Iterator[EdgeNode]:
    name = "op-" + Path(request.node.name).stem.removeprefix("test_").replace("_", "-")[:30]
    with EdgeNode(tmp_path_factory.mktemp("edge") / "edge", cloud.url, name) as node:
        node.join(create_token(cloud))
        wait_for(lambda: node.node_name in kubectl("get", "nodes"), 30, f"node {name} registered\n{node.log()}")
        yield node
