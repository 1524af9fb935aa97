from __future__ import annotations

import shutil
import subprocess

import pytest

from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.cahash import ca_cert_hash, check_ca_hash


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_ca_hash_matches_the_openssl_pipeline_kubeadm_documents(shared_ca: CertificateAuthority) -> None:
    # openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
    pubkey = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout"], input=shared_ca.cert_pem, capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=pubkey, capture_output=True, check=True
    ).stdout
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-r"], input=der, capture_output=True, check=True
    ).stdout.split()[0]

    assert shared_ca.ca_hash() == "sha256:" + digest.decode()


def test_each_ca_has_its_own_hash(shared_ca: CertificateAuthority) -> None:
    other = CertificateAuthority.generate()

    assert ca_cert_hash(other.cert_pem) != ca_cert_hash(shared_ca.cert_pem)


def test_check_ca_hash_accepts_the_pinned_ca_in_any_case(shared_ca: CertificateAuthority) -> None:
    check_ca_hash(shared_ca.cert_pem, shared_ca.ca_hash().upper().replace("SHA256", "sha256"))


def test_check_ca_hash_rejects_another_ca(shared_ca: CertificateAuthority) -> None:
    other = CertificateAuthority.generate()

    with pytest.raises(ValueError, match="does not match the pinned hash"):
        check_ca_hash(other.cert_pem, shared_ca.ca_hash())


@pytest.mark.parametrize("pin", ["", "sha256:abc", "md5:" + "0" * 64, "0" * 64])
def test_check_ca_hash_explains_a_malformed_pin(shared_ca: CertificateAuthority, pin: str) -> None:
    with pytest.raises(ValueError, match="is malformed: expected 'sha256:' and 64 hex digits"):
        check_ca_hash(shared_ca.cert_pem, pin)
