from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.apiserver.conftest import cloud, kubectl  # noqa: F401 - fixtures reused here
from tests.integration.cloudproc import Cloud
from tests.integration.controllers.workloads.kubelet import FakeKubelet


@pytest.fixture(scope="module")
def kubelet(cloud: Cloud) -> Iterator[FakeKubelet]:  # noqa: F811
    fake = FakeKubelet(cloud.kubeconfig)
    for i in range(3):
        fake.add_node(f"node-{i}")
    yield fake
    fake.close()
