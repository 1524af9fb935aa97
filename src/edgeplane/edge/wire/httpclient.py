"""One HTTP/1.1 request at a time, on its own connection, with h11: what an edge node asks the cloud outside
the hub (its CA, a join, a certificate rotation). No pooling: these are a few requests in a node's life."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import h11

from edgeplane.edge.wire.endpoint import Endpoint, open_stream
from edgeplane.edge.wire.errors import WireError

READ_SIZE = 64 * 1024
MAX_BODY = 8 * 1024 * 1024  # an answer longer than this is not one of ours


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    status: int
    reason: str
    body: bytes


async def request(method: str, url: str, *, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
                  ssl_context: ssl.SSLContext | None = None) -> HTTPResponse:
    """Sends one request and reads the whole answer (bound it with ``asyncio.timeout``).

    OSError (ssl.SSLCertVerificationError for a server certificate that does not verify) if the server
    cannot be reached; WireError if what answers is not HTTP or answers with more than MAX_BODY bytes.
    """
    endpoint = Endpoint.parse(url)
    reader, writer = await open_stream(endpoint, ssl_context)
    try:
        conn = h11.Connection(h11.CLIENT)
        head = [("Host", endpoint.host_header), ("Content-Length", str(len(body))), ("Connection", "close"),
                *headers]
        writer.write(conn.send(h11.Request(method=method, target=endpoint.target, headers=head)))
        if body:
            writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return await _response(conn, reader)
    except h11.RemoteProtocolError as exc:
        raise WireError(f"the answer of {endpoint.host_header} is not valid HTTP: {exc}") from None
    finally:
        writer.close()  # Connection: close; one request per connection


async def _response(conn: h11.Connection, reader: asyncio.StreamReader) -> HTTPResponse:
    head: h11.Response | None = None
    chunks: list[bytes] = []
    size = 0
    heard = False
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            if not data and not heard:
                raise ConnectionResetError("the server closed the connection without answering")
            heard = True
            conn.receive_data(data)  # at the end, h11 judges whether what came is a whole answer
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise WireError(f"the answer is longer than {MAX_BODY} bytes")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            assert head is not None
            return HTTPResponse(head.status_code, head.reason.decode("latin-1"), b"".join(chunks))
