from __future__ import annotations

import ipaddress
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgeplane.pki.ca import CertificateAuthority, PKIError, new_private_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(i) for i in san.get_values_for_type(x509.IPAddress)
    }


def _csr(common_name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def test_first_start_creates_a_ten_year_ca_with_a_private_key(pki_dir: Path) -> None:
    ca = CertificateAuthority.load_or_create(pki_dir, common_name="test-ca")

    assert _mode(pki_dir / "ca.key") == 0o600
    assert _mode(pki_dir) == 0o700
    cert = _load(pki_dir / "ca.crt")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "test-ca"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    lifetime = cert.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=3649) < lifetime <= timedelta(days=3650)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert ca.cert_pem == (pki_dir / "ca.crt").read_bytes()


def test_later_starts_load_the_same_ca(pki_dir: Path) -> None:
    first = CertificateAuthority.load_or_create(pki_dir)
    second = CertificateAuthority.load_or_create(pki_dir)

    assert second.cert_pem == first.cert_pem
    assert second.ca_hash() == first.ca_hash()
    client_pem, _ = second.issue_client_cert("u", [])
    assert first.issued(x509.load_pem_x509_certificate(client_pem))


def test_half_a_ca_on_disk_is_an_error_naming_both_files(pki_dir: Path) -> None:
    CertificateAuthority.load_or_create(pki_dir)
    (pki_dir / "ca.key").unlink()

    with pytest.raises(PKIError, match=r"ca\.crt exists but .*ca\.key does not"):
        CertificateAuthority.load_or_create(pki_dir)


def test_a_key_that_does_not_belong_to_the_cert_is_rejected(pki_dir: Path, tmp_path: Path) -> None:
    CertificateAuthority.load_or_create(pki_dir)
    CertificateAuthority.load_or_create(tmp_path / "other")
    (pki_dir / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())

    with pytest.raises(PKIError, match=r"ca\.key: CA private key does not belong to the CA certificate"):
        CertificateAuthority.load(pki_dir)


def test_garbage_ca_cert_is_reported_with_its_path(pki_dir: Path) -> None:
    CertificateAuthority.load_or_create(pki_dir)
    (pki_dir / "ca.crt").write_text("not a certificate")

    with pytest.raises(PKIError, match=r"ca\.crt: not a PEM certificate"):
        CertificateAuthority.load(pki_dir)


def test_server_cert_covers_given_and_local_hosts(pki_dir: Path) -> None:
    ca = CertificateAuthority.load_or_create(pki_dir)

    cert_file, key_file = ca.issue_server_cert(
        pki_dir, "apiserver", ["edge.example.com", "10.1.2.3", "[fd00::1]"]
    )

    cert = _load(cert_file)
    dns, ips = _sans(cert)
    assert {"edge.example.com", "localhost", socket.gethostname().lower()} <= dns
    assert ips == {"10.1.2.3", "127.0.0.1", "::1", str(ipaddress.ip_address("fd00::1"))}
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert ca.issued(cert)
    assert _mode(key_file) == 0o600


def test_server_cert_is_reused_while_it_fits(pki_dir: Path) -> None:
    ca = CertificateAuthority.load_or_create(pki_dir)
    cert_file, _ = ca.issue_server_cert(pki_dir, "apiserver", ["10.0.0.1"])
    original = cert_file.read_bytes()

    again, _ = ca.issue_server_cert(pki_dir, "apiserver", ["10.0.0.1", "localhost"])

    assert again.read_bytes() == original


def test_server_cert_is_reissued_for_a_new_host(pki_dir: Path) -> None:
    ca = CertificateAuthority.load_or_create(pki_dir)
    cert_file, _ = ca.issue_server_cert(pki_dir, "apiserver", ["10.0.0.1"])
    original = cert_file.read_bytes()

    ca.issue_server_cert(pki_dir, "apiserver", ["10.0.0.2"])

    assert cert_file.read_bytes() != original
    assert "10.0.0.2" in _sans(_load(cert_file))[1]


def test_server_cert_from_another_ca_is_reissued(pki_dir: Path, tmp_path: Path) -> None:
    old_ca = CertificateAuthority.load_or_create(tmp_path / "old")
    old_ca.issue_server_cert(pki_dir, "apiserver", [])
    ca = CertificateAuthority.load_or_create(pki_dir)

    cert_file, _ = ca.issue_server_cert(pki_dir, "apiserver", [])

    assert ca.issued(_load(cert_file))


def test_server_cert_rejects_a_host_that_is_not_a_name_or_address(
    shared_ca: CertificateAuthority, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"'bad host!' is neither an IP address nor a valid DNS name"):
        shared_ca.issue_server_cert(tmp_path, "apiserver", ["bad host!"])


def test_client_cert_carries_user_and_groups(shared_ca: CertificateAuthority) -> None:
    cert_pem, key_pem = shared_ca.issue_client_cert("edgeplane-admin", ["system:masters", "ops"], days=30)

    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "edgeplane-admin"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters",
        "ops",
    ]
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert timedelta(days=29) < cert.not_valid_after_utc - datetime.now(UTC) <= timedelta(days=30)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert shared_ca.issued(cert)


@pytest.mark.parametrize("days", [0, -1])
def test_client_cert_validity_must_be_positive(shared_ca: CertificateAuthority, days: int) -> None:
    with pytest.raises(PKIError, match="positive number of days"):
        shared_ca.issue_client_cert("u", [], days=days)


def test_client_cert_needs_a_common_name(shared_ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="common name must not be empty"):
        shared_ca.issue_client_cert(" ", [])


def test_leaf_never_outlives_the_ca(shared_ca: CertificateAuthority) -> None:
    cert_pem, _ = shared_ca.issue_client_cert("u", [], days=365 * 50)

    assert x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc == shared_ca.cert.not_valid_after_utc


def test_sign_csr_uses_the_callers_identity_and_the_csr_key(shared_ca: CertificateAuthority) -> None:
    key = new_private_key()
    csr_pem = _csr("whatever-the-node-claims", key)

    cert = x509.load_pem_x509_certificate(
        shared_ca.sign_csr(csr_pem, "system:node:edge-1", ["system:nodes"], days=10)
    )

    assert cert.subject.rfc4514_string() == "CN=system:node:edge-1,O=system:nodes"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert shared_ca.issued(cert)


def test_sign_csr_rejects_a_tampered_request(shared_ca: CertificateAuthority) -> None:
    csr = x509.load_pem_x509_csr(_csr("node-a", new_private_key()))
    der = csr.public_bytes(serialization.Encoding.DER).replace(b"node-a", b"node-b")
    tampered = x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM)

    with pytest.raises(PKIError, match="signature is invalid"):
        shared_ca.sign_csr(tampered, "system:node:a", ["system:nodes"], days=10)


def test_sign_csr_rejects_weak_rsa_and_garbage(shared_ca: CertificateAuthority) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(PKIError, match="1024 bits; at least 2048 required"):
        shared_ca.sign_csr(_csr("n", weak), "system:node:n", ["system:nodes"], days=10)
    with pytest.raises(PKIError, match="not a PEM certificate signing request"):
        shared_ca.sign_csr(b"hello", "system:node:n", ["system:nodes"], days=10)


def test_issued_is_false_for_another_cas_certificate(shared_ca: CertificateAuthority) -> None:
    other = CertificateAuthority.generate("other")
    cert_pem, _ = other.issue_client_cert("edgeplane-admin", ["system:masters"])

    assert not shared_ca.issued(x509.load_pem_x509_certificate(cert_pem))
