"""Reading the ALPN list and SNI from real ClientHellos (made by Python's ssl), and telling a partial one
from bytes that are not TLS at all."""

from __future__ import annotations

import pytest

from edgeplane.cloudhub.tls.clienthello import ClientHello, IncompleteClientHello, NotTLS, parse_client_hello
from tests.unit.cloudhub.tls.hellos import client_hello


@pytest.mark.parametrize(("alpn", "server_name"), [
    (["edgeplane-hub/1"], "cloud.example"),
    (["h2", "http/1.1"], "kubernetes.default.svc"),
    (None, None),
    (["http/1.1"], None),
])
def test_alpn_and_sni_of_a_real_client_hello(alpn: list[str] | None, server_name: str | None) -> None:
    hello = parse_client_hello(client_hello(alpn, server_name))
    assert hello == ClientHello(tuple(alpn or ()), server_name)


def test_an_ip_address_sends_no_sni() -> None:
    assert parse_client_hello(client_hello(["h2"], "127.0.0.1")).server_name is None


def test_every_prefix_is_incomplete() -> None:
    data = client_hello(["edgeplane-hub/1"], "cloud.example")
    for end in range(len(data)):
        with pytest.raises(IncompleteClientHello):
            parse_client_hello(data[:end])


def test_bytes_after_the_client_hello_are_ignored() -> None:
    data = client_hello(["edgeplane-hub/1"])
    assert parse_client_hello(data + b"\x14\x03\x03\x00\x01\x01").alpn == ("edgeplane-hub/1",)


def test_a_client_hello_split_over_records_is_reassembled() -> None:
    data = client_hello(["a", "edgeplane-hub/1"], "cloud.example")
    message = data[5:]
    split = b"".join(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
                     for part in (message[:3], message[3:100], message[100:]))
    assert parse_client_hello(split) == ClientHello(("a", "edgeplane-hub/1"), "cloud.example")
    with pytest.raises(IncompleteClientHello):
        parse_client_hello(split[:120])


@pytest.mark.parametrize(("data", "reason"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "record of type 71 at offset 0, expected a handshake record"),
    (b"\x80", "record of type 128 at offset 0"),  # an SSLv2-style hello
    (b"\x16\x03\x01\x00\x00", "handshake record of 0 bytes"),
    (b"\x16\x03\x01\x40\x01", "handshake record of 16385 bytes"),
    (b"\x16\x09\x01\x00\x05", "is not TLS"),
    (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "not a ClientHello"),
    (b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", "version and random runs past its end"),
])
def test_what_cannot_be_a_client_hello_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(NotTLS, match=reason):
        parse_client_hello(data)


def test_a_client_hello_with_a_truncated_extension_is_refused() -> None:
    data = bytearray(client_hello(["edgeplane-hub/1"]))
    # Lengthen the ALPN extension's declared size past the end of the extensions block.
    at = data.index(b"\x00\x10", 5 + 4 + 34)
    data[at + 2:at + 4] = (int.from_bytes(data[at + 2:at + 4], "big") + 200).to_bytes(2, "big")
    with pytest.raises(NotTLS, match="runs past its end"):
        parse_client_hello(bytes(data))
