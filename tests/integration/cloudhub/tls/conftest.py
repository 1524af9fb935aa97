from __future__ import annotations

import pytest

from tests.integration.cloudhub.tls.leanserver import Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("lean-tls-pki"))
