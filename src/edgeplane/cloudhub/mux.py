"""Byte streams multiplexed over one hub connection, each with its own credit-based flow control.

Used by both ends: the cloud opens streams (logs, exec, attach, port-forward) and the edge serves them.
Control messages travel in ordinary JSON frames (``sopen``, ``sok``, ``scredit``, ``sclose``); stream data
travels in binary frames of its own, ``0x01 | stream id (4 bytes, big endian) | payload``, so bulk bytes are
never JSON-encoded. A JSON frame always starts with ``[``, which tells the two kinds apart.

Flow control: a sender may have at most ``window`` bytes of a stream unconsumed at the receiver; the
receiver returns credit as its consumer takes the bytes. So a slow reader (a kubectl on a slow link) makes
only its own stream wait, the connection's reader never blocks on a stream, and a fast writer can never
fill memory: a stream holds at most one window on the receiving side.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from edgeplane.cloudhub import protocol

log = logging.getLogger(__name__)

# cloud -> edge
SOPEN = "sopen"  # {"sid": n, "kind": "log|exec|attach|portforward", "params": {...}}
# edge -> cloud
SOK = "sok"  # {"sid": n}: the stream is served
# both ways
SCREDIT = "scredit"  # {"sid": n, "n": bytes}: the receiver consumed this many more bytes
SCLOSE = "sclose"  # {"sid": n, "error"?: Status}: the sender is done with the stream (with an error, if any)
STREAM_MESSAGES = frozenset({SOPEN, SOK, SCREDIT, SCLOSE})

DATA = 0x01
WINDOW = 256 * 1024  # unconsumed bytes per stream and direction
CHUNK = 32 * 1024  # bytes per data frame, so other traffic interleaves with a bulk stream
OPEN_TIMEOUT = 10.0  # seconds the cloud waits for the edge to accept a stream

SendFrame = Callable[[bytes], Awaitable[None]]
OnOpen = Callable[["Stream"], Awaitable[None]]


class StreamClosed(ConnectionError):
    """The stream ended: closed by the peer, or its connection went away."""


def is_data_frame(frame: bytes | str) -> bool:
    return isinstance(frame, bytes) and frame[:1] == b"\x01"


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A Kubernetes Status for a stream that failed, to hand to the client as it is."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class Stream:
    def __init__(self, mux: Mux, sid: int, kind: str, params: dict[str, Any]) -> None:
        self.mux = mux
        self.sid = sid
        self.kind = kind
        self.params = params
        self.error: dict[str, Any] | None = None  # the Status the peer closed the stream with
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._unreported = 0  # consumed bytes not yet returned to the sender as credit
        self._readable = asyncio.Event()
        self._credit = mux.window
        self._writable = asyncio.Event()
        self._writable.set()
        self.peer_done = False  # the peer sent sclose: no more data will come
        self.closed = False  # we sent sclose

    # -- reading ---------------------------------------------------------------------------------------

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" once the peer closed the stream and everything was read."""
        while not self._chunks:
            if self.peer_done:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        self._unreported += len(chunk)
        # Credit goes back in quarter windows: few control messages, and the sender never runs dry.
        if self._unreported >= self.mux.window // 4 and not self.closed and not self.peer_done:
            n, self._unreported = self._unreported, 0
            await self.mux.send_control({"t": SCREDIT, "sid": self.sid, "n": n})
        return chunk

    def _on_data(self, payload: bytes) -> None:
        if self.peer_done:
            return
        self._buffered += len(payload)
        if self._buffered > self.mux.window:
            raise protocol.ProtocolError(f"stream {self.sid}: the peer sent {self._buffered} bytes beyond "
                                         f"a window of {self.mux.window}")
        self._chunks.append(payload)
        self._readable.set()

    # -- writing ---------------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Sends data, waiting for credit as the peer consumes it; StreamClosed once the stream ended."""
        view = memoryview(data)
        while view:
            while self._credit <= 0:
                if self.closed or self.peer_done:
                    raise StreamClosed(f"stream {self.sid} is closed")
                self._writable.clear()
                await self._writable.wait()
            if self.closed or self.peer_done:
                raise StreamClosed(f"stream {self.sid} is closed")
            n = min(len(view), self._credit, CHUNK)
            self._credit -= n
            await self.mux.send_frame(self.mux.data_header(self.sid) + bytes(view[:n]))
            view = view[n:]

    def _on_credit(self, n: int) -> None:
        self._credit += n
        self._writable.set()

    # -- ending ----------------------------------------------------------------------------------------

    async def close(self, error: dict[str, Any] | None = None) -> None:
        """Tells the peer we are done (with a Status on failure). Reading what it sent still works."""
        if self.closed:
            return
        self.closed = True
        self._writable.set()
        message: dict[str, Any] = {"t": SCLOSE, "sid": self.sid}
        if error is not None:
            message["error"] = error
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.mux.send_control(message)
        if self.peer_done:
            self.mux.forget(self.sid)

    def _on_close(self, error: dict[str, Any] | None) -> None:
        self.peer_done = True
        if error is not None and self.error is None:
            self.error = error
        if not self.opened.done():
            self.opened.set_exception(StreamClosed((error or {}).get("message") or "the stream was refused"))
            self.opened.exception()  # retrieved: nobody may wait for it
        self._readable.set()
        self._writable.set()
        if self.closed:
            self.mux.forget(self.sid)

    def abandon(self) -> None:
        """Stops waiting for the peer (our own client went away): reads end and writes fail from now on."""
        self.peer_done = True
        self._readable.set()
        self._writable.set()
        self.mux.forget(self.sid)

    async def wait_open(self, time_limit: float = OPEN_TIMEOUT) -> None:
        """Waits for the edge to accept the stream; StreamClosed (with ``error`` set) if it refused."""
        await asyncio.wait_for(asyncio.shield(self.opened), time_limit)


class Mux:
    """The streams of one hub connection. ``on_open`` serves streams the peer opens (the edge's side)."""

    def __init__(self, send_frame: SendFrame, on_open: OnOpen | None = None, *, window: int = WINDOW) -> None:
        self.send_frame = send_frame
        self.on_open = on_open
        self.window = window
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    @staticmethod
    def data_header(sid: int) -> bytes:
        return bytes((DATA,)) + sid.to_bytes(4, "big")

    async def send_control(self, message: dict[str, Any]) -> None:
        if self.closed:
            raise StreamClosed("the hub connection is closed")
        await self.send_frame(protocol.encode([message]))

    async def open(self, kind: str, params: dict[str, Any]) -> Stream:
        """Opens a stream to the peer; ``await stream.wait_open()`` for its acceptance."""
        if self.closed:
            raise StreamClosed("the hub connection is closed")
        sid = next(self._ids)
        stream = self.streams[sid] = Stream(self, sid, kind, params)
        await self.send_control({"t": SOPEN, "sid": sid, "kind": kind, "params": params})
        return stream

    def forget(self, sid: int) -> None:
        self.streams.pop(sid, None)

    def on_data(self, frame: bytes) -> None:
        if len(frame) < 5:
            raise protocol.ProtocolError("a stream data frame needs a 4-byte stream id")
        stream = self.streams.get(int.from_bytes(frame[1:5], "big"))
        if stream is not None:  # data of a stream closed meanwhile is dropped
            stream._on_data(frame[5:])

    def on_message(self, message: dict[str, Any]) -> None:
        kind, sid = message["t"], message.get("sid")
        if not isinstance(sid, int):
            raise protocol.ProtocolError(f'"{kind}" needs an integer "sid"')
        if kind == SOPEN:
            self._serve(sid, message)
            return
        stream = self.streams.get(sid)
        if stream is None:
            return  # a stream that ended meanwhile
        if kind == SOK:
            if not stream.opened.done():
                stream.opened.set_result(None)
        elif kind == SCREDIT:
            n = message.get("n")
            if not isinstance(n, int) or n <= 0:
                raise protocol.ProtocolError('"scredit" needs a positive integer "n"')
            stream._on_credit(n)
        elif kind == SCLOSE:
            error = message.get("error")
            stream._on_close(error if isinstance(error, dict) else None)

    def _serve(self, sid: int, message: dict[str, Any]) -> None:
        if self.on_open is None:
            raise protocol.ProtocolError('only the cloud opens streams: unexpected "sopen"')
        if sid in self.streams:
            raise protocol.ProtocolError(f"stream {sid} is already open")
        params = message.get("params")
        stream = self.streams[sid] = Stream(self, sid, str(message.get("kind")),
                                            params if isinstance(params, dict) else {})
        task = asyncio.get_running_loop().create_task(self._run(stream), name=f"stream {sid} {stream.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, stream: Stream) -> None:
        assert self.on_open is not None
        try:
            await self.on_open(stream)
        except (StreamClosed, ConnectionError):
            pass
        except Exception as exc:
            log.exception("stream %s (%s) failed", stream.sid, stream.kind)
            await stream.close(status(500, "InternalError", f"{type(exc).__name__}: {exc}"))
        finally:
            await stream.close()
            self.forget(stream.sid)

    async def accept(self, stream: Stream) -> None:
        """The serving side confirms a stream it will serve."""
        await self.send_control({"t": SOK, "sid": stream.sid})

    async def close_all(self, reason: str) -> None:
        """The connection is gone: every stream ends with ``reason``; served streams are cancelled."""
        self.closed = True
        for stream in list(self.streams.values()):
            stream.closed = True
            stream._on_close(status(503, "ServiceUnavailable", reason))
        self.streams.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# -- messages over a stream ------------------------------------------------------------------------------
# exec and attach carry Kubernetes' channel messages (stdin 0, stdout 1, stderr 2, status 3, resize 4,
# close 255) inside one stream: ``channel (1 byte) | length (4 bytes) | payload``.
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def channel_message(channel: int, payload: bytes) -> bytes:
    return bytes((channel,)) + len(payload).to_bytes(4, "big") + payload


class MessageReader:
    """Reassembles channel messages from a stream's chunks (the mux may split or join them)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._buf = bytearray()

    async def next(self) -> tuple[int, bytes] | None:
        """The next (channel, payload); None once the peer closed the stream."""
        while True:
            if len(self._buf) >= 5:
                size = int.from_bytes(self._buf[1:5], "big")
                if len(self._buf) >= 5 + size:
                    channel, payload = self._buf[0], bytes(self._buf[5:5 + size])
                    del self._buf[:5 + size]
                    return channel, payload
            chunk = await self.stream.read()
            if not chunk:
                return None
            self._buf += chunk
