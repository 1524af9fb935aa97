"""Streams over one connection: credit flow control, a slow reader alone waits, refusals, a lost connection."""

from __future__ import annotations

import asyncio

import pytest

from edgeplane.cloudhub import mux, protocol
from edgeplane.cloudhub.mux import MessageReader, Mux, Stream, channel_message


class Link:
    """Two muxes joined in memory: each frame sent by one is handed to the other, as the hub's readers do."""

    def __init__(self, on_open: mux.OnOpen, window: int = 64 * 1024) -> None:
        self.cloud = Mux(self._to_edge, window=window)
        self.edge = Mux(self._to_cloud, on_open, window=window)
        self.frames_to_edge = 0

    @staticmethod
    def _deliver(target: Mux, frame: bytes) -> None:
        if mux.is_data_frame(frame):
            target.on_data(frame)
        else:
            for message in protocol.decode(frame):
                target.on_message(message)

    async def _to_edge(self, frame: bytes) -> None:
        self.frames_to_edge += 1
        self._deliver(self.edge, frame)

    async def _to_cloud(self, frame: bytes) -> None:
        self._deliver(self.cloud, frame)


async def test_a_writer_waits_for_credit_and_the_reader_never_holds_more_than_a_window() -> None:
    written = asyncio.Event()

    async def serve(stream: Stream) -> None:
        await stream.mux.accept(stream)
        await stream.write(b"x" * 1_000_000)
        written.set()

    link = Link(serve, window=64 * 1024)
    stream = await link.cloud.open("log", {})
    await stream.wait_open(1)
    await asyncio.sleep(0.05)
    assert not written.is_set()  # nobody reads: the edge's writer is stuck at one window
    assert stream._buffered == 64 * 1024
    total = 0
    while total < 1_000_000:
        total += len(await stream.read())
        assert stream._buffered <= 64 * 1024
    await asyncio.wait_for(written.wait(), 1)


async def test_a_slow_reader_does_not_stall_another_stream() -> None:
    async def serve(stream: Stream) -> None:
        await stream.mux.accept(stream)
        await stream.write(bytes([stream.params["byte"]]) * stream.params["size"])
        await stream.close()

    link = Link(serve, window=32 * 1024)
    slow = await link.cloud.open("log", {"byte": 1, "size": 1_000_000})
    fast = await link.cloud.open("log", {"byte": 2, "size": 300_000})
    await slow.wait_open(1)
    await fast.wait_open(1)
    received = b""
    while chunk := await asyncio.wait_for(fast.read(), 1):
        received += chunk
    assert received == bytes([2]) * 300_000  # complete, while the other stream's reader never read
    assert slow._buffered == 32 * 1024


async def test_a_refused_stream_carries_the_edges_status() -> None:
    async def serve(stream: Stream) -> None:
        await stream.close(mux.status(400, "BadRequest", "container nope is not valid"))

    link = Link(serve)
    stream = await link.cloud.open("log", {})
    with pytest.raises(mux.StreamClosed, match="container nope is not valid"):
        await stream.wait_open(1)
    assert stream.error is not None and stream.error["code"] == 400


async def test_messages_survive_any_chunking() -> None:
    got: list[tuple[int, bytes]] = []

    async def serve(stream: Stream) -> None:
        await stream.mux.accept(stream)
        reader = MessageReader(stream)
        while (message := await reader.next()) is not None:
            got.append(message)

    link = Link(serve, window=8 * 1024)
    stream = await link.cloud.open("exec", {})
    await stream.wait_open(1)
    big = bytes(range(256)) * 200  # larger than a window: split across credit rounds
    await stream.write(channel_message(0, b"hi") + channel_message(4, b'{"Width":1}') + channel_message(0, big))
    await stream.close()
    for _ in range(100):
        if len(got) == 3:
            break
        await asyncio.sleep(0.01)
    assert got == [(0, b"hi"), (4, b'{"Width":1}'), (0, big)]


async def test_a_lost_connection_ends_every_stream_and_cancels_served_ones() -> None:
    cancelled = asyncio.Event()

    async def serve(stream: Stream) -> None:
        await stream.mux.accept(stream)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    link = Link(serve)
    stream = await link.cloud.open("exec", {})
    await stream.wait_open(1)
    await link.cloud.close_all("gone")
    assert await stream.read() == b""
    assert stream.error is not None and stream.error["message"] == "gone"
    await link.edge.close_all("gone")
    assert cancelled.is_set()
    with pytest.raises(mux.StreamClosed):
        await link.cloud.open("log", {})


async def test_a_peer_that_ignores_the_window_breaks_the_protocol() -> None:
    link = Link(lambda s: s.mux.accept(s), window=1024)
    stream = await link.cloud.open("log", {})
    with pytest.raises(protocol.ProtocolError, match="beyond a window of 1024"):
        link.cloud.on_data(Mux.data_header(stream.sid) + b"z" * 2048)
