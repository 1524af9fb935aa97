"""One edge node's connection to the hub: reliable, coalescing downstream delivery over one WebSocket.

Changes are queued as keys only, never as object copies: when a key's turn comes the session sends the
object's latest version, so any number of updates while a key waits (or while the node is offline) cost
one message. A key is in flight from its send until the edge acknowledges that version; the window of
unacknowledged messages is bounded, so a slow edge makes its own queue wait and nobody else's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from edgeplane.cloudhub import protocol
from edgeplane.cloudhub.mux import Mux

log = logging.getLogger(__name__)

WINDOW = 1024  # unacknowledged downstream messages per session


@dataclass
class NodeChannel:
    """What the hub knows of one node across its connections."""

    name: str
    acked: dict[str, int] = field(default_factory=dict)  # key -> version the edge confirmed holding
    session: Session | None = None
    offline_since: float | None = None  # Unix time its last connection ended (None while connected)


# (channel, key, inflight) -> the message to send for key now, or None when the edge is up to date.
MessageFor = Callable[[NodeChannel, str, dict[str, tuple[int, bool]]], dict[str, Any] | None]


class Session:
    def __init__(self, channel: NodeChannel, ws: web.WebSocketResponse, message_for: MessageFor) -> None:
        self.channel = channel
        self.ws = ws
        self.message_for = message_for
        self.dirty: dict[str, None] = {}  # keys to look at, in arrival order (an ordered set)
        self.inflight: dict[str, tuple[int, bool]] = {}  # key -> (version, deleted) sent, not yet acknowledged
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self.up_lock = asyncio.Lock()  # upstream frames are written in the order they arrived
        self._initial: set[str] | None = None  # keys of the hello diff; "synced" is sent once they are out
        self.closed = False
        self.mux = Mux(self.send_frame)  # logs, exec, attach and port-forward streams to this node

    def mark(self, key: str) -> None:
        self.dirty[key] = None
        self._wake.set()

    def start_sync(self, keys: set[str]) -> None:
        self._initial = set(keys)
        for key in keys:
            self.dirty[key] = None
        self._wake.set()

    def on_acks(self, acks: list[Any]) -> None:
        acked = self.channel.acked
        for key, rv, deleted in acks:
            deleted = bool(deleted)
            if deleted:
                acked.pop(key, None)
            else:
                acked[key] = rv
            if self.inflight.get(key) == (rv, deleted):
                del self.inflight[key]
        self._wake.set()

    async def send(self, messages: list[dict[str, Any]]) -> None:
        await self.send_frame(protocol.encode(messages))

    async def send_frame(self, frame: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(frame)

    async def run_sender(self) -> None:
        """Drains the dirty keys in frames while the window has room; ends when the socket closes."""
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            while self.dirty and len(self.inflight) < WINDOW and not self.closed:
                frame = self._next_frame()
                if frame is not None:
                    await self.send_frame(frame)
            if self._initial is not None and not self._initial and not self.closed:
                self._initial = None  # the hello diff was empty
                await self.send([{"t": protocol.SYNCED}])

    def _next_frame(self) -> bytes | None:
        """The next frame of dirty keys, bounded by the window, the batch and the frame size.

        Its own function so the encoded messages (orjson's buffers are kilobytes each, whatever the
        message's length) are freed once the frame is built, not kept by an idle sender until its next wake.
        """
        encoded: list[bytes] = []
        size = 0
        room = min(protocol.BATCH, WINDOW - len(self.inflight))
        while self.dirty and len(encoded) < room and size < protocol.FRAME_BYTES:
            key = next(iter(self.dirty))
            del self.dirty[key]
            if self._initial is not None:
                self._initial.discard(key)
            message = self.message_for(self.channel, key, self.inflight)
            if message is not None:
                encoded.append(protocol.encode_one(message))
                size += len(encoded[-1])
        if self._initial is not None and not self._initial:
            self._initial = None
            encoded.append(protocol.encode_one({"t": protocol.SYNCED}))
        return protocol.join_frame(encoded) if encoded else None
