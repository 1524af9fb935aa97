"""An edge node's identity in certificates: its subject, its certificate requests, the hash of its key.

A node is the user ``system:node:<name>`` in the group ``system:nodes`` (what the API server's node
policy recognises). The node makes its own key and sends only a CSR; the cloud records the SHA-256 of
the key's SubjectPublicKeyInfo so a second machine cannot take over a name that is already held.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from edgeplane.pki.ca import PKIError, PrivateKey

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def node_user(node_name: str) -> str:
    return NODE_USER_PREFIX + node_name


def new_node_csr(key: PrivateKey, node_name: str) -> bytes:
    """A PEM CSR for ``system:node:<name>``; the cloud decides the subject anyway, this is for the record."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, node_user(node_name)),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def _spki_sha256(public_key: object) -> str:
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def csr_key_sha256(csr_pem: bytes) -> str:
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise PKIError(f"not a PEM certificate signing request: {exc}") from exc
    return _spki_sha256(csr.public_key())


def cert_key_sha256(cert: x509.Certificate) -> str:
    return _spki_sha256(cert.public_key())


def load_cert(cert_pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise PKIError(f"{what} is not a PEM certificate: {exc}") from exc


def key_matches_cert(key: PrivateKey, cert: x509.Certificate) -> bool:
    return _spki_sha256(key.public_key()) == cert_key_sha256(cert)


def lifetime_left(cert: x509.Certificate, now: datetime) -> float:
    """The fraction (0..1) of the certificate's validity that is still ahead at ``now``."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    total = (end - start).total_seconds()
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, (end - now).total_seconds() / total))
