"""Real ClientHellos, as Python's ssl (OpenSSL) sends them."""

from __future__ import annotations

import ssl


def client_hello(alpn: list[str] | None = None, server_name: str | None = None) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:  # waiting for the ServerHello: the ClientHello is out
        return out.read()
    raise AssertionError("a client handshake cannot complete without a server")
