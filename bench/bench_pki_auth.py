"""PKI and request-auth costs: certificate issuance, and the per-request authenticate + authorize path.

Prints one line per figure. Run: .venv/bin/python bench/bench_pki_auth.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from edgeplane.apiserver.auth import Authenticator, Authorizer, RequestAttributes
from edgeplane.pki.ca import CertificateAuthority, new_private_key


def per_second(label: str, fn: Callable[[], object], seconds: float = 0.5) -> None:
    fn()  # warm caches
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    print(f"{label:<48} {n / elapsed:>12,.0f} /s   {elapsed / n * 1e6:>9.1f} us each")


def main() -> None:
    ca = CertificateAuthority.generate()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge")]))
        .sign(new_private_key(), hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    per_second("generate CA (EC P-256)", CertificateAuthority.generate)
    per_second("issue client cert (new key)", lambda: ca.issue_client_cert("u", ["g"]))
    per_second("sign node CSR", lambda: ca.sign_csr(csr, "system:node:edge", ["system:nodes"], 365))

    node_pem, _ = ca.issue_client_cert("system:node:edge-1", ["system:nodes"])
    node_der = x509.load_pem_x509_certificate(node_pem).public_bytes(serialization.Encoding.DER)
    authn = Authenticator(None)
    strict = Authenticator(None, client_ca=ca)
    for i in range(10_000):
        authn.add_token(f"token-{i:05d}-abcdefghijklmnop", f"user-{i}")
    per_second("authenticate client cert (cached identity)", lambda: authn.authenticate(node_der, None))
    per_second("authenticate client cert (re-verify vs CA)", lambda: strict.authenticate(node_der, None))
    per_second(
        "authenticate bearer token (10k tokens)",
        lambda: authn.authenticate(None, "Bearer token-05000-abcdefghijklmnop"),
    )

    authz = Authorizer()
    user = authn.authenticate(node_der, None)
    assert user is not None
    status = RequestAttributes("patch", "", "pods", "status", "default", "web-1", "", True)
    denied = RequestAttributes("create", "apps", "deployments", "", "default", "", "", True)
    per_second("authorize node pods/status (allowed)", lambda: authz.authorize(user, status, "edge-1"))
    per_second("authorize node create deployment (denied)", lambda: authz.authorize(user, denied))


if __name__ == "__main__":
    main()
