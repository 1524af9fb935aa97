"""TLS 1.3 record protection after the handshake (RFC 8446 section 5), for connections whose handshake
OpenSSL did and whose connection object was then freed.

All that an established connection needs is its cipher suite and, each way, a traffic secret, the key
and IV derived from it, and a sequence number: a few hundred bytes instead of OpenSSL's ~26 KB per
connection. Keys are kept as bytes and the AEAD object is built per record (about a microsecond),
because a kept AESGCM object costs kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

# content types (RFC 8446 section 5.1)
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
# alert descriptions (section 6)
CLOSE_NOTIFY = 0
UNEXPECTED_MESSAGE = 10
BAD_RECORD_MAC = 20
RECORD_OVERFLOW = 22
ILLEGAL_PARAMETER = 47
DECODE_ERROR = 50
USER_CANCELED = 90
NO_APPLICATION_PROTOCOL = 120
ALERT_NAMES = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
               40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 48: "unknown_ca",
               50: "decode_error", 51: "decrypt_error", 80: "internal_error", 90: "user_canceled",
               116: "certificate_required", 120: "no_application_protocol"}

KEY_UPDATE = 24  # handshake message type
MAX_PLAINTEXT = 1 << 14
MAX_INNER = MAX_PLAINTEXT + 1  # content plus its type byte
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
HEADER = 5
TAG = 16
# Send our own KeyUpdate long before AES-GCM's limit of 2^24.5 full-size records per key (section 5.5).
REKEY_AFTER = 1 << 23
_TYPE_BYTES = {t: bytes([t]) for t in (ALERT, HANDSHAKE, APPLICATION_DATA)}


@dataclass(frozen=True, slots=True)
class CipherSuite:
    name: str
    aead: type[AESGCM] | type[ChaCha20Poly1305]
    key_length: int
    hash: hashes.HashAlgorithm

    @property
    def bits(self) -> int:
        return self.key_length * 8


SUITES = {s.name: s for s in (
    CipherSuite("TLS_AES_128_GCM_SHA256", AESGCM, 16, hashes.SHA256()),
    CipherSuite("TLS_AES_256_GCM_SHA384", AESGCM, 32, hashes.SHA384()),
    CipherSuite("TLS_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, 32, hashes.SHA256()),
)}


def hkdf_expand_label(suite: CipherSuite, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    full_label = b"tls13 " + label
    info = (length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label
            + bytes([len(context)]) + context)
    return HKDFExpand(suite.hash, length, info).derive(secret)


class RecordError(Exception):
    """A fatal problem with the peer's records; ``alert`` is the alert description to send it.
    ``received`` is the application data that arrived intact before the bad record."""

    received = b""

    def __init__(self, alert: int, reason: str) -> None:
        super().__init__(reason)
        self.alert = alert


class PeerAlert(ConnectionError):
    """The peer ended the connection with a fatal alert; ``received`` as for RecordError."""

    received = b""

    def __init__(self, description: int) -> None:
        super().__init__(f"peer sent TLS alert {ALERT_NAMES.get(description, 'unknown')} ({description})")
        self.description = description


class TrafficKeys:
    """One direction's traffic secret, the key and IV derived from it, and the next sequence number."""

    __slots__ = ("iv", "key", "secret", "seq")

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        self.secret = secret
        self.key = hkdf_expand_label(suite, secret, b"key", b"", suite.key_length)
        self.iv = int.from_bytes(hkdf_expand_label(suite, secret, b"iv", b"", 12), "big")
        self.seq = 0

    def next_nonce(self) -> bytes:
        nonce = (self.iv ^ self.seq).to_bytes(12, "big")
        self.seq += 1
        return nonce

    def updated(self, suite: CipherSuite) -> TrafficKeys:
        """The keys after a KeyUpdate (section 7.2)."""
        return TrafficKeys(suite, hkdf_expand_label(suite, self.secret, b"traffic upd", b"",
                                                    suite.hash.digest_size))


class RecordLayer:
    """Opens the peer's records and seals ours, for one established TLS 1.3 connection."""

    __slots__ = ("_handshake", "_pending", "_read", "_write", "closed", "suite")

    def __init__(self, suite: CipherSuite, read_secret: bytes, write_secret: bytes, write_seq: int = 0) -> None:
        self.suite = suite
        self._read = TrafficKeys(suite, read_secret)
        self._write = TrafficKeys(suite, write_secret)
        self._write.seq = write_seq
        self._pending = b""  # an incomplete record from the previous feed
        self._handshake = b""  # an incomplete post-handshake message
        self.closed = False  # the peer sent close_notify: nothing more is read

    def open(self, data: bytes) -> tuple[bytes, bytes]:
        """Decrypts the records in ``data`` (and what an earlier feed left incomplete).

        Returns the application data and the bytes to send the peer in reply (our KeyUpdate when the
        peer asked for one). Sets ``closed`` on close_notify. Raises RecordError (send its alert, then
        close) or PeerAlert."""
        if self.closed:
            return b"", b""
        buf = self._pending + data if self._pending else data
        view = memoryview(buf)
        plaintext: list[memoryview] = []
        replies: list[bytes] = []
        try:
            pos = self._open_records(buf, view, plaintext, replies)
        except (RecordError, PeerAlert) as exc:
            exc.received = b"".join(plaintext)
            raise
        self._pending = bytes(view[pos:]) if pos < len(buf) and not self.closed else b""
        return b"".join(plaintext), b"".join(replies)

    def _open_records(self, buf: bytes, view: memoryview, plaintext: list[memoryview],
                      replies: list[bytes]) -> int:
        """Opens the complete records in ``buf``; returns where the incomplete rest starts."""
        pos = 0
        end_of_data = len(buf)
        while end_of_data - pos >= HEADER and not self.closed:
            content_type = buf[pos]
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if content_type != APPLICATION_DATA:
                raise RecordError(UNEXPECTED_MESSAGE, f"a record of type {content_type} after the handshake "
                                                      "(only protected application_data records may follow)")
            if length > MAX_CIPHERTEXT:
                raise RecordError(RECORD_OVERFLOW, f"a record of {length} bytes ({MAX_CIPHERTEXT} at most)")
            end = pos + HEADER + length
            if end > end_of_data:
                break
            inner = self._decrypt(bytes(view[pos:pos + HEADER]), view[pos + HEADER:end])
            pos = end
            inner_type, content = _unpad(inner)
            if inner_type == APPLICATION_DATA:
                plaintext.append(content)
            elif inner_type == ALERT:
                self._on_alert(content)
            elif inner_type == HANDSHAKE:
                reply = self._on_handshake(bytes(content))
                if reply:
                    replies.append(reply)
            else:
                raise RecordError(UNEXPECTED_MESSAGE, f"a protected record of content type {inner_type}")
        return pos

    def seal(self, data: bytes | bytearray | memoryview) -> bytes:
        """``data`` as application data records of at most 16 KiB each."""
        view = memoryview(data).cast("B")
        records = [self._seal(APPLICATION_DATA, view[i:i + MAX_PLAINTEXT])
                   for i in range(0, len(view), MAX_PLAINTEXT)]
        return b"".join(records)

    def alert(self, description: int) -> bytes:
        """A protected alert record: close_notify, or a fatal alert."""
        level = 1 if description in (CLOSE_NOTIFY, USER_CANCELED) else 2
        return self._seal(ALERT, bytes((level, description)))

    def _seal(self, content_type: int, content: bytes | memoryview) -> bytes:
        if self._write.seq >= REKEY_AFTER:
            return self._key_update() + self._protect(content_type, content)
        return self._protect(content_type, content)

    def _protect(self, content_type: int, content: bytes | memoryview) -> bytes:
        keys = self._write
        header = b"\x17\x03\x03" + (len(content) + 1 + TAG).to_bytes(2, "big")
        inner = b"".join((content, _TYPE_BYTES[content_type]))
        return header + self.suite.aead(keys.key).encrypt(keys.next_nonce(), inner, header)

    def _decrypt(self, header: bytes, ciphertext: memoryview) -> memoryview:
        keys = self._read
        try:
            inner = self.suite.aead(keys.key).decrypt(keys.next_nonce(), ciphertext, header)
        except InvalidTag:
            raise RecordError(BAD_RECORD_MAC, f"record {keys.seq - 1} failed authentication") from None
        if len(inner) > MAX_INNER:
            raise RecordError(RECORD_OVERFLOW, f"a record of {len(inner) - 1} plaintext bytes "
                                               f"({MAX_PLAINTEXT} at most)")
        return memoryview(inner)

    def _on_alert(self, content: memoryview) -> None:
        if len(content) != 2:  # alerts are never fragmented nor coalesced (section 5.1)
            raise RecordError(DECODE_ERROR, f"an alert record of {len(content)} bytes (2 expected)")
        description = content[1]
        if description == CLOSE_NOTIFY:
            self.closed = True
        elif description != USER_CANCELED:  # user_canceled is informational; close_notify follows it
            raise PeerAlert(description)

    def _on_handshake(self, fragment: bytes) -> bytes:
        """Handles post-handshake messages: only KeyUpdate is acceptable from a client."""
        if not fragment:
            raise RecordError(UNEXPECTED_MESSAGE, "an empty handshake record")
        data = self._handshake + fragment
        self._handshake = b""
        reply = b""
        while data:
            if data[0] != KEY_UPDATE:
                raise RecordError(UNEXPECTED_MESSAGE, f"post-handshake message of type {data[0]} "
                                                      "(only KeyUpdate is expected)")
            if len(data) < 5:
                self._handshake = data  # a fragment: the rest comes in the next record
                return reply
            if data[1:4] != b"\x00\x00\x01":
                raise RecordError(DECODE_ERROR, "a KeyUpdate message whose length is not 1")
            if len(data) > 5:  # a key change ends its record (section 5.1)
                raise RecordError(UNEXPECTED_MESSAGE, "data follows a KeyUpdate in the same record")
            request = data[4]
            if request not in (0, 1):
                raise RecordError(ILLEGAL_PARAMETER, f"KeyUpdate request_update {request} (0 or 1 expected)")
            self._read = self._read.updated(self.suite)
            if request:
                reply = self._key_update()
            data = b""
        return reply

    def _key_update(self) -> bytes:
        """Our KeyUpdate (not requesting one back), sealed with the current write key, after which the
        write key changes."""
        record = self._protect(HANDSHAKE, bytes((KEY_UPDATE, 0, 0, 1, 0)))
        self._write = self._write.updated(self.suite)
        return record


def _unpad(inner: memoryview) -> tuple[int, memoryview]:
    """The content type and content of a TLSInnerPlaintext: content, type, then zero padding."""
    end = len(inner)
    while end and inner[end - 1] == 0:
        end -= 1
    if not end:
        raise RecordError(UNEXPECTED_MESSAGE, "a record with no content type (all padding)")
    return inner[end - 1], inner[:end - 1]
