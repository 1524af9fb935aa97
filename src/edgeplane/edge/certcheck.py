"""Checks a node's certificate, key and CA with the ``ssl`` module alone.

The agent needs to know at start that its key belongs to its certificate and that the pinned CA issued
it, and when the certificate is due for rotation. The ``cryptography`` package answers both, but costs the
agent about 7 MB of resident memory for its whole life; OpenSSL is loaded anyway for the hub's TLS. So the
check is a TLS handshake in memory: a server that requires client certificates from the CA, and a client
presenting the node's certificate. OpenSSL verifies the chain and the signature exactly as the cloud
will, and hands over the verified certificate's validity dates.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from edgeplane.pki.tls import load_cert_chain_from_memory

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (Python's ssl has no name for it): an expired certificate is still
# this node's identity, and rotation, not the start, is what deals with it.
_NO_CHECK_TIME = 0x200000
_HANDSHAKE_ROUNDS = 8


class CertificateProblem(ValueError):
    """The key, certificate and CA do not form a usable identity; ``part`` names the culprit."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part  # "ca", "certificate" or "key" (unreadable), "pair" (mismatch), "issuer"


@dataclass(frozen=True)
class Validity:
    not_before: float  # seconds since the epoch
    not_after: float


def check_node_certificate(ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> Validity:
    """The certificate's validity if ``key_pem`` belongs to ``cert_pem`` and ``ca_pem`` issued it."""
    for part, pem, marker in (("ca", ca_pem, b"-----BEGIN CERTIFICATE-----"),
                              ("certificate", cert_pem, b"-----BEGIN CERTIFICATE-----"),
                              ("key", key_pem, b"PRIVATE KEY-----")):
        if marker not in pem:
            raise CertificateProblem(part, f"not a PEM {'private key' if part == 'key' else 'certificate'}")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.verify_mode = ssl.CERT_REQUIRED
    server.verify_flags |= _NO_CHECK_TIME
    try:
        server.load_verify_locations(cadata=ca_pem.decode("ascii", "replace"))
    except ssl.SSLError as exc:
        raise CertificateProblem("ca", f"not a PEM certificate ({exc.reason or exc})") from None
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE  # the client side only presents; the server side does the checking
    for ctx in (server, client):
        try:
            load_cert_chain_from_memory(ctx, cert_pem, key_pem)
        except ValueError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc):
                raise CertificateProblem("pair", "the key does not belong to the certificate") from None
            raise CertificateProblem("certificate", f"cannot be loaded with its key ({exc})") from None
    peer = _handshake(server, client)
    return Validity(ssl.cert_time_to_seconds(peer["notBefore"]), ssl.cert_time_to_seconds(peer["notAfter"]))


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> dict[str, object]:
    """Runs a TLS handshake between two in-memory ends; the server's view of the client certificate."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(_HANDSHAKE_ROUNDS):
        for name, end in (("client", client), ("server", server)):
            if done[name]:
                continue
            try:
                end.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as exc:
                raise CertificateProblem("issuer", f"not issued by the CA ({exc.verify_message})") from None
            except ssl.SSLError as exc:
                if name == "server":
                    raise CertificateProblem("certificate", f"unusable for TLS ({exc.reason or exc})") from None
                raise  # the client end learns of the server's failure only through its alert
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if done["server"]:
            peer = server.getpeercert()
            if peer:
                return peer
    raise CertificateProblem("certificate", "the TLS handshake did not complete")
