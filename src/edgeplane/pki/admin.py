"""The cluster administrator's credentials: a client certificate in the data directory's admin.kubeconfig."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography import x509

from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.kubeconfig import KubeconfigError, load_kubeconfig, write_kubeconfig

log = logging.getLogger(__name__)

ADMIN_USER = "edgeplane-admin"
ADMIN_GROUP = "system:masters"
ADMIN_KUBECONFIG = "admin.kubeconfig"
ADMIN_CERT_DAYS = 365


def ensure_admin_kubeconfig(data_dir: Path, server_url: str, ca: CertificateAuthority) -> Path:
    """DATA/admin.kubeconfig (0600): kept while it still fits, rewritten when the server URL or CA changed
    or its certificate is no longer valid."""
    path = data_dir / ADMIN_KUBECONFIG
    reason = _stale_reason(path, server_url, ca)
    if reason:
        cert_pem, key_pem = ca.issue_client_cert(ADMIN_USER, [ADMIN_GROUP], days=ADMIN_CERT_DAYS)
        write_kubeconfig(path, server_url, ca.cert_pem, ADMIN_USER, cert_pem=cert_pem, key_pem=key_pem)
        log.info("wrote %s (%s)", path, reason)
    return path


def _stale_reason(path: Path, server_url: str, ca: CertificateAuthority) -> str:
    """Why the existing file must be rewritten; empty if it can stay."""
    if not path.exists():
        return "first start"
    try:
        current = load_kubeconfig(path)
        cert = x509.load_pem_x509_certificate(current["cert_pem"] or b"")
    except (KubeconfigError, ValueError) as exc:
        return f"existing file unusable: {exc}"
    if current["server"] != server_url:
        return f"server changed from {current['server']} to {server_url}"
    if current["ca_pem"] != ca.cert_pem or not ca.issued(cert):
        return "CA changed or admin certificate expired"
    return ""
