"""The cluster's certificate authority: one EC P-256 CA that signs server, client and edge node certificates.

EC P-256 keys rather than RSA: key generation and TLS handshakes are an order of magnitude cheaper, which
matters on small edge devices that rejoin often.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgeplane.pki.cahash import ca_cert_hash
from edgeplane.pki.files import PRIVATE, PUBLIC, ensure_private_dir, write_atomic
from edgeplane.pki.hosts import IPAddress, covered_hosts, server_hosts, to_general_names
from edgeplane.pki.tls import server_ssl_context

__all__ = ["CertificateAuthority", "PKIError", "new_private_key", "private_key_pem", "server_ssl_context"]

log = logging.getLogger(__name__)

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=365)
# A server certificate this close to expiry is reissued at start-up instead of being reused.
RENEW_BEFORE = timedelta(days=30)
# Back-date notBefore: edge devices' clocks are often a little behind the cloud's.
CLOCK_SKEW = timedelta(minutes=5)
MIN_RSA_BITS = 2048

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class PKIError(ValueError):
    """Key material that is missing, malformed or does not fit together."""


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _subject(common_name: str, organizations: list[str] | tuple[str, ...] = ()) -> x509.Name:
    if not common_name or not common_name.strip():
        raise PKIError("certificate common name must not be empty")
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class CertificateAuthority:
    """A CA certificate with its private key, able to issue leaf certificates."""

    def __init__(self, cert: x509.Certificate, key: PrivateKey) -> None:
        if _public_der(cert.public_key()) != _public_der(key.public_key()):
            raise PKIError("CA private key does not belong to the CA certificate")
        self.cert = cert
        self.key = key
        self.cert_pem: bytes = cert.public_bytes(serialization.Encoding.PEM)

    # -- creating and loading -------------------------------------------------------------------------

    @classmethod
    def generate(cls, common_name: str = "edgeplane-ca") -> CertificateAuthority:
        """A new self-signed CA, valid for ten years, held in memory only."""
        key = new_private_key()
        now = _now()
        name = _subject(common_name)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, pki_dir: Path) -> CertificateAuthority:
        cert_file, key_file = pki_dir / "ca.crt", pki_dir / "ca.key"
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except ValueError as exc:
            raise PKIError(f"{cert_file}: not a PEM certificate ({exc})") from exc
        try:
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise PKIError(f"{key_file}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise PKIError(f"{key_file}: CA key must be EC or RSA, not {type(key).__name__}")
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise PKIError(f"{cert_file}: certificate is not a CA (basicConstraints CA:TRUE missing)")
        if cert.not_valid_after_utc <= _now():
            raise PKIError(f"{cert_file}: CA certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
        try:
            return cls(cert, key)
        except PKIError as exc:
            raise PKIError(f"{key_file}: {exc}") from None

    @classmethod
    def load_or_create(cls, pki_dir: Path, common_name: str = "edgeplane-ca") -> CertificateAuthority:
        """Load ``pki_dir``/ca.crt and ca.key; on first start generate them (key 0600)."""
        ensure_private_dir(pki_dir)
        cert_file, key_file = pki_dir / "ca.crt", pki_dir / "ca.key"
        with _exclusive(pki_dir / ".ca.lock"):  # two processes starting together must agree on one CA
            has_cert, has_key = cert_file.exists(), key_file.exists()
            if has_cert and has_key:
                return cls.load(pki_dir)
            if has_cert or has_key:
                present, missing = (cert_file, key_file) if has_cert else (key_file, cert_file)
                raise PKIError(
                    f"{present} exists but {missing} does not: restore the missing file, or remove both "
                    "to create a new CA (every issued certificate then stops working)"
                )
            ca = cls.generate(common_name)
            write_atomic(key_file, private_key_pem(ca.key), PRIVATE)
            write_atomic(cert_file, ca.cert_pem, PUBLIC)
            log.info("created CA %r in %s (%s)", common_name, pki_dir, ca.ca_hash())
            return ca

    # -- issuing ----------------------------------------------------------------------------------------

    def ca_hash(self) -> str:
        """``sha256:<hex>`` of the CA's SubjectPublicKeyInfo (kubeadm's discovery-token-ca-cert-hash)."""
        return ca_cert_hash(self.cert_pem)

    def issue_server_cert(self, pki_dir: Path, name: str, hosts: list[str]) -> tuple[Path, Path]:
        """``pki_dir``/NAME.crt and NAME.key for a TLS server answering on ``hosts``.

        The SANs always include localhost, 127.0.0.1, ::1 and this machine's hostname. Existing files are
        reused while they are signed by this CA, cover every host and are not close to expiry.
        """
        if not name or "/" in name or name.startswith("."):
            raise PKIError(f"server certificate name {name!r} must be a plain file name")
        cert_file, key_file = pki_dir / f"{name}.crt", pki_dir / f"{name}.key"
        wanted = server_hosts(hosts)
        if self._reusable_server_cert(cert_file, key_file, wanted):
            return cert_file, key_file
        key = new_private_key()
        cert = self._sign(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
            key.public_key(),
            SERVER_VALIDITY,
            ExtendedKeyUsageOID.SERVER_AUTH,
            sans=wanted,
        )
        ensure_private_dir(pki_dir)
        write_atomic(key_file, private_key_pem(key), PRIVATE)
        write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM), PUBLIC)
        log.info("issued server certificate %s for %s", cert_file, ", ".join(map(str, wanted)))
        return cert_file, key_file

    def issue_client_cert(
        self, common_name: str, organizations: list[str], days: int = 365
    ) -> tuple[bytes, bytes]:
        """A new key and client certificate: CN is the user name, each O a group. Returns PEMs."""
        key = new_private_key()
        cert = self._sign(
            _subject(common_name, organizations),
            key.public_key(),
            self._validity(days),
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        return cert.public_bytes(serialization.Encoding.PEM), private_key_pem(key)

    def sign_csr(
        self,
        csr_pem: bytes,
        common_name: str,
        organizations: list[str],
        days: int,
        *,
        lifetime: timedelta | None = None,
    ) -> bytes:
        """Sign a CSR's public key as a client certificate; the identity comes from the caller, not the CSR.

        Edge nodes send a CSR at join time so their private key never leaves the node; the caller has
        already decided who the node is (CN ``system:node:NAME``, O ``system:nodes``). ``lifetime``, when
        given, replaces ``days`` (short-lived certificates, e.g. to exercise rotation).
        """
        if lifetime is not None and lifetime.total_seconds() <= 0:
            raise PKIError(f"certificate lifetime must be positive, not {lifetime}")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise PKIError(f"not a PEM certificate signing request: {exc}") from exc
        if not csr.is_signature_valid:
            raise PKIError("certificate signing request signature is invalid (key and request do not match)")
        public_key = csr.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                raise PKIError(f"CSR RSA key is {public_key.key_size} bits; at least {MIN_RSA_BITS} required")
        elif not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise PKIError(f"CSR key type {type(public_key).__name__} is not supported: use EC or RSA")
        cert = self._sign(
            _subject(common_name, organizations),
            public_key,
            lifetime if lifetime is not None else self._validity(days),
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    # -- checking ---------------------------------------------------------------------------------------

    def issued(self, cert: x509.Certificate, *, at: datetime | None = None) -> bool:
        """True if this CA signed ``cert`` and it is inside its validity window at ``at`` (default now)."""
        when = at or _now()
        if not cert.not_valid_before_utc <= when < cert.not_valid_after_utc:
            return False
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def _reusable_server_cert(self, cert_file: Path, key_file: Path, wanted: list[str | IPAddress]) -> bool:
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except FileNotFoundError:
            return False
        except (ValueError, TypeError) as exc:
            log.warning("reissuing %s: existing files unreadable (%s)", cert_file, exc)
            return False
        reason = ""
        if not self.issued(cert, at=_now() + RENEW_BEFORE):
            reason = "not signed by this CA, or expiring soon"
        elif _public_der(cert.public_key()) != _public_der(key.public_key()):
            reason = "key does not match certificate"
        elif missing := [str(h) for h in wanted if h not in covered_hosts(cert)]:
            reason = "does not cover " + ", ".join(missing)
        if reason:
            log.info("reissuing %s: %s", cert_file, reason)
            return False
        return True

    # -- signing ----------------------------------------------------------------------------------------

    def _validity(self, days: int) -> timedelta:
        if not isinstance(days, int) or days < 1:
            raise PKIError(f"certificate validity must be a positive number of days, not {days!r}")
        return timedelta(days=days)

    def _sign(
        self,
        subject: x509.Name,
        public_key: object,
        validity: timedelta,
        usage: x509.ObjectIdentifier,
        sans: list[str | IPAddress] | None = None,
    ) -> x509.Certificate:
        now = _now()
        # A leaf never outlives its CA: clients would reject the chain at the CA's expiry anyway.
        not_after = min(now + validity, self.cert.not_valid_after_utc)
        is_rsa = isinstance(public_key, rsa.RSAPublicKey)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=is_rsa,  # RSA key exchange in TLS 1.2; meaningless for EC
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(to_general_names(sans)), critical=False
            )
        return builder.sign(self.key, hashes.SHA256())


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """An advisory lock across processes (POSIX); a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
