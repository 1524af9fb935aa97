"""TLS 1.3 record protection: key schedule against RFC 8448, and one record layer talking to another
(interoperability with OpenSSL and Python's ssl is in tests/integration/cloudhub/tls)."""

from __future__ import annotations

import itertools
import os

import pytest

from edgeplane.cloudhub.tls import records
from edgeplane.cloudhub.tls.records import (
    SUITES,
    PeerAlert,
    RecordError,
    RecordLayer,
    TrafficKeys,
)

CLIENT_SECRET = bytes.fromhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
SERVER_SECRET = bytes.fromhex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
AES128 = SUITES["TLS_AES_128_GCM_SHA256"]


def test_traffic_keys_match_rfc8448() -> None:
    server = TrafficKeys(AES128, SERVER_SECRET)
    client = TrafficKeys(AES128, CLIENT_SECRET)
    assert server.key == bytes.fromhex("9f02283b6c9c07efc26bb9f2ac92e356")
    assert server.iv == int("cf782b88dd83549aadf1e984", 16)
    assert client.key == bytes.fromhex("17422dda596ed5d9acd890e3c63f5051")
    assert client.iv == int("5b78923dee08579033e523d9", 16)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def pair(suite_name: str = "TLS_AES_128_GCM_SHA256", server_seq: int = 0) -> tuple[RecordLayer, RecordLayer]:
    """A server's record layer and a client's (its mirror image), with fresh secrets for the suite."""
    suite = SUITES[suite_name]
    c, s = os.urandom(suite.hash.digest_size), os.urandom(suite.hash.digest_size)
    server = RecordLayer(suite, c, s, server_seq)
    client = RecordLayer(suite, s, c)
    client._read.seq = server_seq
    return server, client


def protect(layer: RecordLayer, content_type: int, content: bytes, padding: int = 0) -> bytes:
    """A record as a peer could legally build it, with zero padding, sealed with ``layer``'s write key."""
    keys = layer._write
    inner = content + bytes([content_type]) + bytes(padding)
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    return header + layer.suite.aead(keys.key).encrypt(keys.next_nonce(), inner, header)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_data_both_ways_for_every_suite(suite: str) -> None:
    server, client = pair(suite, server_seq=2)
    payload = os.urandom(100_000)
    sealed = client.seal(payload)
    assert len(sealed) == 100_000 + 7 * (5 + 1 + 16)  # seven records of at most 16 KiB
    assert server.open(sealed) == (payload, b"")
    assert client.open(server.seal(b"pong")) == (b"pong", b"")


def test_records_split_anywhere_across_feeds() -> None:
    server, client = pair()
    messages = [os.urandom(n) for n in (1, 700, 16384, 20000)]
    stream = b"".join(client.seal(m) for m in messages)
    cuts = [*range(0, 2000), *range(2000, len(stream), 997), len(stream)]  # byte by byte, then in chunks
    received = b"".join(server.open(stream[a:b])[0] for a, b in itertools.pairwise(cuts))
    assert received == b"".join(messages)


def test_padding_and_empty_application_records_are_accepted() -> None:
    server, client = pair()
    data = protect(client, records.APPLICATION_DATA, b"padded", padding=300)
    data += protect(client, records.APPLICATION_DATA, b"")
    assert server.open(data) == (b"padded", b"")


def test_close_notify_ends_reading_and_is_sent_on_close() -> None:
    server, client = pair()
    plaintext, _ = server.open(client.seal(b"last") + client.alert(records.CLOSE_NOTIFY) + client.seal(b"after"))
    assert plaintext == b"last"
    assert server.closed
    assert server.open(client.seal(b"more")) == (b"", b"")
    client.open(server.alert(records.CLOSE_NOTIFY))
    assert client.closed


def test_a_fatal_alert_from_the_peer_is_an_error_naming_it() -> None:
    server, client = pair()
    with pytest.raises(PeerAlert, match=r"bad_certificate \(42\)"):
        server.open(client.alert(42))


def test_user_canceled_is_informational() -> None:
    server, client = pair()
    assert server.open(client.alert(records.USER_CANCELED) + client.seal(b"x")) == (b"x", b"")


def test_key_update_requested_is_answered_and_both_directions_rekey() -> None:
    server, client = pair()
    request = protect(client, records.HANDSHAKE, bytes((records.KEY_UPDATE, 0, 0, 1, 1)))
    client._write = client._write.updated(client.suite)
    plaintext, reply = server.open(request + client.seal(b"under the new key"))
    assert plaintext == b"under the new key"
    assert reply  # the server's own KeyUpdate, then its write key changes
    client.open(reply)
    assert client.open(server.seal(b"answer")) == (b"answer", b"")
    assert server._write.seq == 1 and client._read.secret == server._write.secret


def test_key_update_not_requested_changes_only_the_read_key_even_fragmented() -> None:
    server, client = pair()
    message = bytes((records.KEY_UPDATE, 0, 0, 1, 0))
    data = protect(client, records.HANDSHAKE, message[:2]) + protect(client, records.HANDSHAKE, message[2:])
    client._write = client._write.updated(client.suite)
    write_secret = server._write.secret
    assert server.open(data + client.seal(b"ok")) == (b"ok", b"")
    assert server._write.secret == write_secret


def test_writer_rekeys_before_the_aead_limit() -> None:
    server, client = pair()
    server._write.seq = client._read.seq = records.REKEY_AFTER
    first_secret = server._write.secret
    assert client.open(server.seal(b"one") + server.seal(b"two")) == (b"onetwo", b"")
    assert server._write.secret != first_secret and server._write.seq == 2


@pytest.mark.parametrize(("name", "make", "alert"), [
    ("tampered", lambda c: _flip(c.seal(b"secret data"), 12), records.BAD_RECORD_MAC),
    ("tampered header", lambda c: _flip(c.seal(b"secret data"), 2), records.BAD_RECORD_MAC),
    ("plaintext alert", lambda c: b"\x15\x03\x03\x00\x02\x02\x28", records.UNEXPECTED_MESSAGE),
    ("change_cipher_spec", lambda c: b"\x14\x03\x03\x00\x01\x01", records.UNEXPECTED_MESSAGE),
    ("oversized", lambda c: b"\x17\x03\x03\x41\x01" + bytes(16641), records.RECORD_OVERFLOW),
    ("too much plaintext", lambda c: protect(c, records.APPLICATION_DATA, bytes(16385)), records.RECORD_OVERFLOW),
    ("all padding", lambda c: protect(c, 0, b""), records.UNEXPECTED_MESSAGE),
    ("new session ticket", lambda c: protect(c, records.HANDSHAKE, b"\x04\x00\x00\x01\x00"),
     records.UNEXPECTED_MESSAGE),
    ("key update with data after", lambda c: protect(c, records.HANDSHAKE, b"\x18\x00\x00\x01\x00\x18"),
     records.UNEXPECTED_MESSAGE),
    ("key update of bad length", lambda c: protect(c, records.HANDSHAKE, b"\x18\x00\x00\x02\x00\x00"),
     records.DECODE_ERROR),
    ("key update bad value", lambda c: protect(c, records.HANDSHAKE, b"\x18\x00\x00\x01\x02"),
     records.ILLEGAL_PARAMETER),
    ("empty handshake", lambda c: protect(c, records.HANDSHAKE, b""), records.UNEXPECTED_MESSAGE),
    ("long alert", lambda c: protect(c, records.ALERT, b"\x01\x00\x01\x00"), records.DECODE_ERROR),
    ("unknown content type", lambda c: protect(c, 99, b"x"), records.UNEXPECTED_MESSAGE),
])
def test_bad_records_are_refused_with_the_right_alert(name: str, make: object, alert: int) -> None:
    server, client = pair()
    intact = client.seal(b"before")
    with pytest.raises(RecordError) as refused:
        server.open(intact + make(client))  # type: ignore[operator]
    assert refused.value.alert == alert, str(refused.value)
    assert refused.value.received == b"before"  # what was intact is still the app's
    # the alert the server then sends is one its peer can read
    with pytest.raises(PeerAlert, match=records.ALERT_NAMES[alert]):
        client.open(server.alert(alert))
