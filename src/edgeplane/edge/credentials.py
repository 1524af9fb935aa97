"""The cryptography side of an edge node's identity: its key, its certificate requests, and checking a
certificate the cloud issued. Imported only to join or to rotate, so the running agent does without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from edgeplane.edge.identity import IdentityError, JoinError
from edgeplane.pki.ca import PKIError, PrivateKey, new_private_key, private_key_pem
from edgeplane.pki.nodeidentity import NODES_GROUP, key_matches_cert, load_cert, new_node_csr, node_user

__all__ = ["checked_certificate", "load_key", "new_node_csr", "new_private_key", "private_key_pem"]


def checked_certificate(answer: dict[str, Any], ca_pem: bytes, key: PrivateKey, name: str) -> bytes:
    """The issued certificate, if it is for this key and this node and was signed by the pinned CA."""
    cert_pem = str(answer.get("certificate", "")).encode()
    try:
        cert = load_cert(cert_pem, "the issued certificate")
    except PKIError as exc:
        raise JoinError(str(exc)) from None
    cn = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    problem = ""
    if not key_matches_cert(key, cert):
        problem = "it is not for this node's key"
    elif cn != [node_user(name)] or NODES_GROUP not in orgs:
        problem = f"its subject is {cert.subject.rfc4514_string()}, not CN={node_user(name)},O={NODES_GROUP}"
    elif not _signed_by(cert, load_cert(ca_pem, "the CA")):
        problem = "it is not signed by the pinned CA"
    if problem:
        raise JoinError(f"the cloud issued an unusable certificate: {problem}")
    return cert_pem


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def load_key(key_pem: bytes, where: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"{where}: not an unencrypted PEM private key ({exc})") from None
    return key  # type: ignore[return-value]
