"""The edge's small HTTP/1.1 server over real sockets: keep-alive, chunked streams, bad requests, clients
that leave mid-stream, failing handlers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from edgeplane.edge.wire.httpserver import MAX_HEAD, HTTPServer, Request, Response


class App:
    """Answers /hello whole, streams /watch from a queue, fails on /boom; records what it saw."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.events: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.stream_closed = asyncio.Event()

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path == "/watch":
            return Response(stream=self._watch())
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        return Response(body=json.dumps({"path": request.path, "query": request.query}).encode())

    async def _watch(self) -> AsyncIterator[bytes]:
        try:
            while (event := await self.events.get()) is not None:
                yield event
        finally:
            self.stream_closed.set()


@pytest.fixture
async def served() -> AsyncIterator[tuple[App, HTTPServer]]:
    app = App()
    server = HTTPServer(app, port=0)
    await server.start()
    yield app, server
    await server.stop()


async def _open(server: HTTPServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One Content-Length response."""
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    status_line, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def test_keep_alive_serves_requests_on_one_connection(served: tuple[App, HTTPServer]) -> None:
    app, server = served
    reader, writer = await _open(server)
    writer.write(b"GET /hello/w%20orld?a=1&a=2&b= HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = await _response(reader)
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"path": "/hello/w orld", "query": {"a": "1", "b": ""}}
    # Two more, pipelined, on the same connection.
    writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nHEAD /two HTTP/1.1\r\nHost: x\r\n\r\n")
    assert json.loads((await _response(reader))[2])["path"] == "/one"
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode().lower()
    assert head.startswith("http/1.1 200") and "content-length: 29" in head  # HEAD: the head alone
    writer.write(b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert json.loads((await _response(reader))[2])["path"] == "/three"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed as asked
    assert [r.path for r in app.requests] == ["/hello/w orld", "/one", "/two", "/three"]
    writer.close()


async def test_a_stream_is_sent_in_chunks_as_it_comes(served: tuple[App, HTTPServer]) -> None:
    app, server = served
    reader, writer = await _open(server)
    writer.write(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode().lower()
    assert "transfer-encoding: chunked" in head  # the head goes out before any event
    await app.events.put(b'{"type":"ADDED"}\n')
    assert await asyncio.wait_for(reader.readexactly(23), 5) == b'11\r\n{"type":"ADDED"}\n\r\n'
    await app.events.put(b"second\n")
    await app.events.put(None)  # the stream ends: the last chunk, and the connection stays open
    assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"7\r\nsecond\n\r\n0\r\n\r\n"
    writer.write(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert json.loads((await _response(reader))[2])["path"] == "/after"
    writer.close()


async def test_a_client_leaving_mid_stream_closes_the_stream_at_once(served: tuple[App, HTTPServer]) -> None:
    app, server = served
    reader, writer = await _open(server)
    writer.write(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    # No event comes that could fail to be written: the server notices the close by itself.
    await asyncio.wait_for(app.stream_closed.wait(), 2)


@pytest.mark.parametrize(("raw", "status"), [
    (b"NOT HTTP AT ALL\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n" + b"a" * (2 * 1024 * 1024), 413),
])
async def test_bad_requests_get_a_status_and_the_server_goes_on(served: tuple[App, HTTPServer], raw: bytes,
                                                                 status: int) -> None:
    app, server = served
    reader, writer = await _open(server)
    writer.write(raw)
    got, _, body = await _response(reader)
    assert got == status
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["code"] == status and doc["message"]
    writer.close()
    assert app.requests == []
    reader, writer = await _open(server)
    writer.write(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _response(reader))[0] == 200
    writer.close()


async def test_a_failing_handler_is_a_500_on_that_request_only(served: tuple[App, HTTPServer]) -> None:
    _, server = served
    reader, writer = await _open(server)
    writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await _response(reader)
    assert status == 500 and "handler bug" in json.loads(body)["message"]
    assert (await _response(reader))[0] == 200
    writer.close()


async def test_stop_closes_open_connections_and_streams(served: tuple[App, HTTPServer]) -> None:
    app, server = served
    reader, writer = await _open(server)
    writer.write(b"GET /watch HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    idle_reader, idle_writer = await _open(server)
    await asyncio.wait_for(server.stop(), 2)
    assert app.stream_closed.is_set()
    assert await asyncio.wait_for(idle_reader.read(), 2) == b""
    with pytest.raises(OSError):
        await _open(server)
    writer.close()
    idle_writer.close()
