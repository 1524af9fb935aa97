"""The CA pinning hash, computed as kubeadm's ``--discovery-token-ca-cert-hash`` does.

A joining edge node fetches the CA certificate over an unauthenticated channel, then trusts it only if
the SHA-256 of its DER SubjectPublicKeyInfo equals the hash its join token carries.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_HASH = re.compile(r"sha256:([0-9a-f]{64})")


def ca_cert_hash(cert_pem: bytes) -> str:
    """``sha256:<hex>`` of the certificate's SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def check_ca_hash(cert_pem: bytes, expected: str) -> None:
    """Raise ValueError unless ``cert_pem`` is the CA that ``expected`` (``sha256:<64 hex>``) pins."""
    match = _HASH.fullmatch(expected.strip().lower())
    if match is None:
        raise ValueError(f"CA cert hash {expected!r} is malformed: expected 'sha256:' and 64 hex digits")
    actual = ca_cert_hash(cert_pem)
    if not hmac.compare_digest(actual, "sha256:" + match.group(1)):
        raise ValueError(f"CA certificate does not match the pinned hash: got {actual}, expected {expected}")
