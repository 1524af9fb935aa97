from __future__ import annotations

from pathlib import Path

import pytest

from edgeplane.pki.ca import CertificateAuthority


@pytest.fixture(scope="session")
def shared_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """One on-disk CA for tests that only read from it (key generation is cheap, but not free)."""
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    return tmp_path / "pki"
