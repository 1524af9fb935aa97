"""TLS contexts for the API server and for our own clients, both anchored on the cluster CA."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from edgeplane.pki.files import PRIVATE, write_atomic

if TYPE_CHECKING:
    from edgeplane.pki.ca import CertificateAuthority


def server_ssl_context(ca: CertificateAuthority, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS 1.2+ server context; a client certificate is optional but, when sent, must chain to ``ca``.

    Optional because bearer tokens are the other way in; a request without either is then
    anonymous (or refused) by the authenticator, not by the handshake.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(cadata=ca.cert_pem.decode("ascii"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])  # clients such as kubectl offer h2 first; we speak HTTP/1.1
    return ctx


def client_ssl_context(
    ca_pem: bytes | None, cert_pem: bytes | None = None, key_pem: bytes | None = None
) -> ssl.SSLContext:
    """TLS 1.2+ client context trusting ``ca_pem`` (system roots if None), presenting a client cert if given."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode("ascii") if ca_pem else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if (cert_pem is None) != (key_pem is None):
        raise ValueError("a client certificate needs both its certificate and its private key")
    if cert_pem is not None and key_pem is not None:
        load_cert_chain_from_memory(ctx, cert_pem, key_pem)
    return ctx


def load_cert_chain_from_memory(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``ssl`` only loads certificate chains from files: use a private (0700) directory, removed at once."""
    with tempfile.TemporaryDirectory(prefix="edgeplane-tls-") as tmp:
        bundle = Path(tmp) / "client.pem"
        write_atomic(bundle, cert_pem.rstrip(b"\n") + b"\n" + key_pem, PRIVATE)
        try:
            ctx.load_cert_chain(bundle)
        except ssl.SSLError as exc:
            raise ValueError(f"client certificate and key cannot be loaded together: {exc}") from exc
