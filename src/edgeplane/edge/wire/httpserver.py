"""A small HTTP/1.1 server on asyncio streams and h11, for the node's loopback API (the metaserver).

It keeps connections alive between requests, sends a response either whole (with Content-Length) or as
the chunks of an async iterator (chunked, for watches), and notices a client that leaves during a long
response, so the iterator is closed at once rather than at its next chunk. Bad requests get 400 (431 for
a head over MAX_HEAD, 413 for a body over MAX_BODY), a handler that fails gets 500, all as Kubernetes
Status objects; whatever goes wrong on one connection closes that connection alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

import h11
import orjson

from edgeplane.api import errors

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
MAX_HEAD = 16 * 1024  # request line and headers
MAX_BODY = 1024 * 1024
IDLE_TIMEOUT = 75.0  # seconds a kept-alive connection may wait for its next request
REQUEST_TIMEOUT = 30.0  # seconds a started request may take to arrive whole
LINGER = 1.0  # seconds a refused request's remaining bytes are read and dropped, so the refusal is not lost


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # percent-decoded
    query: dict[str, str]  # the first value of each parameter
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    stream: AsyncIterator[bytes] | None = None  # a body sent in chunks as they come (then ``body`` is unused)


Handler = Callable[[Request], Awaitable[Response]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_response(err: errors.APIError) -> Response:
    return Response(err.code, orjson.dumps(err.status()))


class HTTPServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=READ_SIZE)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stops listening and closes every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(reader, writer, self.handler).serve()
        except (OSError, asyncio.CancelledError):
            pass  # the client went away, or the server stops
        except Exception:  # one broken connection must not stop the server
            log.exception("HTTP connection failed")
        finally:
            self._connections.discard(task)
            writer.close()  # after what is still buffered


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
        self.reader = reader
        self.writer = writer
        self.handler = handler
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)

    async def serve(self) -> None:
        conn = self.conn
        while True:
            try:
                request = await self._next_request()
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc.error_status_hint, f"malformed HTTP request: {exc}")
                return
            except _Refused as exc:
                await self._refuse(exc.status, str(exc))
                return
            if request is None:
                return
            response = await self._answer(request)
            if not await self._send(request, response):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return  # keep-alive is off (the client said close, or an HTTP/1.0 client)
            conn.start_next_cycle()

    async def _next_request(self) -> Request | None:
        """The next whole request; None if the client closed or stayed idle too long."""
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT if head or self.conn.trailing_data[0]
                                               else IDLE_TIMEOUT):
                        data = await self.reader.read(READ_SIZE)
                except TimeoutError:
                    return None
                self.conn.receive_data(data)
            elif isinstance(event, h11.Request):
                # h11 bounds a head that arrives in pieces; one that came in a single read is measured here.
                if len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers) > MAX_HEAD:
                    raise _Refused(431, f"request line and headers over {MAX_HEAD} bytes")
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise _Refused(413, f"request body over {MAX_BODY} bytes")
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return _request(head, bytes(body))
            else:  # ConnectionClosed, or PAUSED after a close
                return None

    async def _answer(self, request: Request) -> Response:
        try:
            return await self.handler(request)
        except Exception as exc:  # the client gets a 500, the server goes on
            log.exception("HTTP handler failed on %s %s", request.method, request.path)
            return status_response(errors.internal(str(exc) or type(exc).__name__))

    async def _send(self, request: Request, response: Response) -> bool:
        """Sends ``response``; False if the connection cannot go on (the client left, or a stream failed)."""
        headers = [("Content-Type", response.content_type)]
        stream = response.stream
        if stream is None:
            headers.append(("Content-Length", str(len(response.body))))
        else:
            headers.append(("Transfer-Encoding", "chunked"))
        self.writer.write(self.conn.send(h11.Response(status_code=response.status, headers=headers,
                                                      reason=_reason(response.status))))
        if request.method == "HEAD":  # the head alone (h11 sends no body for HEAD)
            if stream is not None:
                await _close_iterator(stream)
        elif stream is None:
            if response.body:
                self.writer.write(self.conn.send(h11.Data(data=response.body)))
        elif not await self._stream(stream):
            return False
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        return True

    async def _stream(self, chunks: AsyncIterator[bytes]) -> bool:
        """Sends ``chunks`` until they end (True) or the client leaves (False)."""
        await self.writer.drain()  # the head goes out now: a watch may stay quiet for long
        pump = asyncio.create_task(self._pump(chunks))
        watch = asyncio.create_task(self._client_leaves())
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        if not pump.done() or pump.cancelled():
            return False  # the client left first
        failure = pump.exception()
        if failure is not None and not isinstance(failure, OSError):
            log.error("HTTP response stream failed", exc_info=failure)
        return failure is None

    async def _pump(self, chunks: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in chunks:
                if chunk:
                    self.writer.write(self.conn.send(h11.Data(data=chunk)))
                    await self.writer.drain()
        finally:
            await _close_iterator(chunks)

    async def _client_leaves(self) -> None:
        """Returns when the client closes its end; bytes it sends meanwhile wait for the next cycle."""
        while data := await self.reader.read(READ_SIZE):
            self.conn.receive_data(data)
            if len(self.conn.trailing_data[0]) > MAX_HEAD:
                await asyncio.Event().wait()  # stop reading: TCP holds back a client that will not wait

    async def _refuse(self, status: int, message: str) -> None:
        """Answers a request that could not be read, if the connection still allows an answer."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        err = errors.APIError(status, "RequestEntityTooLarge" if status in (413, 431) else "BadRequest", message)
        body = orjson.dumps(err.status())
        self.writer.write(self.conn.send(h11.Response(status_code=status, reason=_reason(status), headers=[
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")])))
        self.writer.write(self.conn.send(h11.Data(data=body)))
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        # Closing with unread bytes makes the kernel reset the connection, which can destroy the answer
        # before the client reads it: say we are done, and drop what still comes for a moment.
        self.writer.write_eof()
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(LINGER):
                while await self.reader.read(READ_SIZE):
                    pass


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _request(head: h11.Request, body: bytes) -> Request:
    target = urlsplit(head.target.decode("latin-1"))
    query: dict[str, str] = {}
    for name, value in parse_qsl(target.query, keep_blank_values=True):
        query.setdefault(name, value)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in head.headers}
    return Request(head.method.decode("ascii"), unquote(target.path), query, headers, body)


async def _close_iterator(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
