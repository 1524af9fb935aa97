from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud, kubectl_env


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory.mktemp("cloud") / "data").start()
    yield c
    c.stop()


Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def kubectl(cloud: Cloud) -> Kubectl:
    binary = require_binary("kubectl")

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary, *args], input=input, capture_output=True, text=True, timeout=timeout,
                              env=kubectl_env(cloud, **(env or {})))
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
        return proc

    return run
