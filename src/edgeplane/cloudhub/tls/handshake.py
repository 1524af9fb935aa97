"""The server side of a mutual-TLS 1.3 handshake, done by OpenSSL in memory, yielding what the record
layer needs afterwards so that OpenSSL's connection object can be freed.

pyOpenSSL's keylog callback hands over the application traffic secrets (the same lines as
SSLKEYLOGFILE). Records are fed to OpenSSL one at a time, so it never reads past the client's Finished:
whatever follows is application data under the client's traffic secret, from sequence number 0, and stays
ours. Records OpenSSL writes once the handshake is complete (TLS 1.3 NewSessionTickets) are protected
with the server's traffic secret, so they are counted to know our first sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto

from edgeplane.cloudhub.protocol import HUB_ALPN
from edgeplane.cloudhub.tls.records import (
    HEADER,
    MAX_CIPHERTEXT,
    NO_APPLICATION_PROTOCOL,
    SUITES,
    RecordLayer,
)

_READ_CHUNK = 64 * 1024


class HandshakeError(Exception):
    """The handshake failed; ``alert`` holds the bytes to send the peer before closing (may be empty)."""

    def __init__(self, reason: str, alert: bytes = b"") -> None:
        super().__init__(reason)
        self.alert = alert


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    cipher: str  # an RFC 8446 cipher suite name, e.g. TLS_AES_128_GCM_SHA256
    client_secret: bytes  # client_application_traffic_secret_0
    server_secret: bytes  # server_application_traffic_secret_0
    server_seq: int  # records already sent under server_secret
    leftover: bytes  # the client's bytes after its Finished: records under client_secret from seq 0
    peer_cert: bytes  # the client certificate, DER
    alpn: str

    def record_layer(self) -> RecordLayer:
        return RecordLayer(SUITES[self.cipher], self.client_secret, self.server_secret, self.server_seq)


class LeanTLSContext:
    """A TLS 1.3-only server context requiring a client certificate from the cluster CA and the hub's ALPN."""

    def __init__(self, cert_file: str | Path, key_file: str | Path, *, ca_pem: bytes | None = None,
                 ca_file: str | Path | None = None, alpn: str = HUB_ALPN) -> None:
        if (ca_pem is None) == (ca_file is None):
            raise ValueError("LeanTLSContext needs the CA that signs client certificates: ca_pem or ca_file")
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_tls13_ciphersuites(b":".join(name.encode() for name in SUITES))  # those records.py protects
        try:
            ctx.use_certificate_chain_file(str(cert_file))
            ctx.use_privatekey_file(str(key_file))
            ctx.check_privatekey()
        except SSL.Error as exc:
            raise ValueError(f"server certificate {cert_file} and key {key_file} cannot be used: "
                             f"{_reason(exc)}") from None
        if ca_file is not None:
            ca_pem = Path(ca_file).read_bytes()
        assert ca_pem is not None
        try:
            cas = x509.load_pem_x509_certificates(ca_pem)
        except ValueError as exc:
            raise ValueError(f"the client CA {ca_file or '(PEM)'} is not PEM certificates: {exc}") from None
        store = ctx.get_cert_store()
        assert store is not None
        for ca in cas:
            store.add_cert(crypto.X509.from_cryptography(ca))
            ctx.add_client_ca(ca)
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)  # a freed connection cannot resume anyway
        self._alpn = alpn.encode()
        ctx.set_alpn_select_callback(self._select_alpn)
        ctx.set_keylog_callback(_keylog)
        self._ctx = ctx
        self.alpn = alpn

    def _select_alpn(self, conn: SSL.Connection, offered: list[bytes]) -> bytes:
        if self._alpn not in offered:
            # pyOpenSSL re-raises this from do_handshake, after OpenSSL sent no_application_protocol
            names = [name.decode("ascii", "replace") for name in offered]
            raise HandshakeError(f"client offered ALPN {names}, not {self.alpn!r}")
        return self._alpn

    def server_handshake(self) -> ServerHandshake:
        return ServerHandshake(self)


def _keylog(conn: SSL.Connection, line: bytes) -> None:
    label, _, rest = line.partition(b" ")
    if label in (b"CLIENT_TRAFFIC_SECRET_0", b"SERVER_TRAFFIC_SECRET_0"):
        handshake: ServerHandshake = conn.get_app_data()
        handshake._secrets[label] = bytes.fromhex(rest.rpartition(b" ")[2].decode())


def _reason(exc: SSL.Error) -> str:
    """OpenSSL's error queue as text: the reasons, joined."""
    entries = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    parts = [str(entry[-1]) for entry in entries]
    return "; ".join(parts) or str(exc) or type(exc).__name__


class ServerHandshake:
    """One connection's handshake: feed it the client's bytes, send what it returns, until ``result``."""

    def __init__(self, context: LeanTLSContext) -> None:
        self._context = context
        self._conn: SSL.Connection | None = SSL.Connection(context._ctx, None)
        self._conn.set_accept_state()
        self._conn.set_app_data(self)
        self._buffer = b""
        self._secrets: dict[bytes, bytes] = {}
        self.result: HandshakeResult | None = None

    def feed(self, data: bytes) -> bytes:
        """Takes the client's bytes; returns the bytes to send it. Sets ``result`` once the handshake is
        complete (then the rest of ``data``, if any, is ``result.leftover``). Raises HandshakeError."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("the handshake is over: feed the record layer")
        self._buffer += data
        out = []
        while len(self._buffer) >= HEADER:
            length = int.from_bytes(self._buffer[3:5], "big")
            # An oversized record goes to OpenSSL at once, which refuses it with the right alert.
            size = HEADER + length if length <= MAX_CIPHERTEXT else len(self._buffer)
            if len(self._buffer) < size:
                break
            record, self._buffer = self._buffer[:size], self._buffer[size:]
            conn.bio_write(record)
            try:
                conn.do_handshake()
            except SSL.WantReadError:
                out.append(self._drain())
                continue
            except (SSL.Error, HandshakeError) as exc:
                out.append(self._drain())
                self._conn = None
                reason = _reason(exc) if isinstance(exc, SSL.Error) else str(exc)
                raise HandshakeError(reason, b"".join(out)) from None
            written_after = self._drain()  # NewSessionTickets, under the server's traffic secret
            out.append(written_after)
            result = self._finish(conn, _count_records(written_after), b"".join(out))
            if result.alpn != self._context.alpn:  # a client that offered no ALPN: OpenSSL did not ask us
                out.append(result.record_layer().alert(NO_APPLICATION_PROTOCOL))
                raise HandshakeError(f"client did not offer ALPN {self._context.alpn!r}", b"".join(out))
            self.result = result
            return b"".join(out)
        return b"".join(out)

    def _drain(self) -> bytes:
        assert self._conn is not None
        chunks = []
        while True:
            try:
                chunks.append(self._conn.bio_read(_READ_CHUNK))
            except SSL.WantReadError:
                return b"".join(chunks)

    def _finish(self, conn: SSL.Connection, server_seq: int, output: bytes) -> HandshakeResult:
        """Collects what the record layer needs and frees the OpenSSL connection."""
        self._conn = None
        cipher = conn.get_cipher_name()
        cert = conn.get_peer_certificate(as_cryptography=True)
        client = self._secrets.get(b"CLIENT_TRAFFIC_SECRET_0")
        server = self._secrets.get(b"SERVER_TRAFFIC_SECRET_0")
        if cipher not in SUITES or client is None or server is None or cert is None:
            raise HandshakeError(f"handshake ended without what the record layer needs (cipher {cipher}, "
                                 f"secrets {sorted(self._secrets)}, client certificate {cert is not None})",
                                 output)
        alpn = conn.get_alpn_proto_negotiated().decode("ascii", "replace")
        if alpn == self._context.alpn:
            alpn = self._context.alpn  # one string for every connection
        result = HandshakeResult(cipher, client, server, server_seq, self._buffer, cert.public_bytes(Encoding.DER),
                                 alpn)
        self._buffer = b""
        self._secrets = {}
        return result


def _count_records(data: bytes) -> int:
    count = pos = 0
    while pos + HEADER <= len(data):
        pos += HEADER + int.from_bytes(data[pos + 3:pos + 5], "big")
        count += 1
    return count
