"""One edge node's connection to the hub: reliable, coalescing downstream delivery over one WebSocket.

Changes are queued as keys only, never as object copies: when a key's turn comes the session sends the
object's latest version, so any number of updates while a key waits (or while the node is offline) cost
one message. A key is in flight from its send until the edge acknowledges that version; the window of
unacknowledged messages is bounded, so a slow edge makes its own queue wait and nobody else's.

An idle session holds no task: a sender task runs while there is something to send (and room in the
window) and ends when there is not; the upstream writer runs while frames from the edge wait to be
written. The stream mux is made on first use, as most nodes never carry a stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edgeplane.cloudhub import protocol
from edgeplane.cloudhub.mux import Mux

if TYPE_CHECKING:
    from edgeplane.apiserver.auth import UserInfo
    from edgeplane.cloudhub.wsconn import WebSocketConnection

log = logging.getLogger(__name__)

WINDOW = 1024  # unacknowledged downstream messages per session
UP_BACKLOG = 16  # upstream frames waiting to be written before the session stops reading from its edge


@dataclass
class NodeChannel:
    """What the hub knows of one node across its connections."""

    name: str
    acked: dict[str, int] = field(default_factory=dict)  # key -> version the edge confirmed holding
    session: Session | None = None
    offline_since: float | None = None  # Unix time its last connection ended (None while connected)


class SessionOwner(Protocol):
    """What a session needs from the hub."""

    def message_for(self, channel: NodeChannel, key: str, inflight: dict[str, tuple[int, bool]]
                    ) -> dict[str, Any] | None:
        """The message to send for ``key`` now, or None when the edge is up to date."""

    def on_frame(self, session: Session, frame: bytes | str) -> None:
        """One frame from the edge."""

    async def write_up(self, session: Session, ups: list[dict[str, Any]]) -> None:
        """Writes one frame's upstream messages and acknowledges them."""

    def writing(self, task: asyncio.Task[None]) -> None:
        """A session's upstream writer started; the hub's stop waits for it, even after its connection ended."""


class Session:
    __slots__ = ("_initial", "_mux", "_sender", "_up_task", "_ups", "channel", "closed", "conn", "dirty",
                 "hello_seen", "inflight", "owner", "user")

    def __init__(self, channel: NodeChannel, conn: WebSocketConnection, owner: SessionOwner,
                 user: UserInfo) -> None:
        self.channel = channel
        self.conn = conn
        self.owner = owner
        self.user = user
        self.dirty: dict[str, None] = {}  # keys to look at, in arrival order (an ordered set)
        self.inflight: dict[str, tuple[int, bool]] = {}  # key -> (version, deleted) sent, not yet acknowledged
        self._initial: set[str] | None = None  # keys of the hello diff; "synced" is sent once they are out
        self._sender: asyncio.Task[None] | None = None
        self._ups: deque[list[dict[str, Any]]] | None = None  # upstream frames to write, in arrival order
        self._up_task: asyncio.Task[None] | None = None
        self._mux: Mux | None = None
        self.hello_seen = False
        self.closed = False

    @property
    def mux(self) -> Mux:
        """Logs, exec, attach and port-forward streams to this node."""
        if self._mux is None:
            self._mux = Mux(self.send_frame)
            if self.closed:
                self._mux.closed = True
        return self._mux

    @property
    def has_streams(self) -> bool:
        return self._mux is not None

    # -- downstream ------------------------------------------------------------------------------------

    def mark(self, key: str) -> None:
        self.dirty[key] = None
        self._wake()

    def start_sync(self, keys: set[str]) -> None:
        self._initial = set(keys)
        for key in keys:
            self.dirty[key] = None
        self._wake()

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
        if self.dirty:
            self._wake()

    async def send(self, messages: list[dict[str, Any]]) -> None:
        await self.send_frame(protocol.encode(messages))

    async def send_frame(self, frame: bytes) -> None:
        await self.conn.send_bytes(frame)

    def _wake(self) -> None:
        if self._sender is None and not self.closed:
            self._sender = asyncio.get_running_loop().create_task(self._send_dirty())

    async def _send_dirty(self) -> None:
        """Drains the dirty keys in frames while the window has room, then ends (a later change wakes it)."""
        try:
            while not self.closed:
                if self.dirty and len(self.inflight) < WINDOW:
                    frame = self._next_frame()
                    if frame is not None:
                        await self.send_frame(frame)
                elif self._initial is not None and not self._initial:
                    self._initial = None  # the hello diff was empty
                    await self.send([{"t": protocol.SYNCED}])
                else:
                    return
        except ConnectionError:
            pass  # the connection closed; the next hello sends whatever is still missing
        finally:
            self._sender = None

    def _next_frame(self) -> bytes | None:
        """The next frame of dirty keys, bounded by the window, the batch and the frame size.

        Its own function so the encoded messages (orjson's buffers are kilobytes each, whatever the
        message's length) are freed once the frame is built.
        """
        encoded: list[bytes] = []
        size = 0
        room = min(protocol.BATCH, WINDOW - len(self.inflight))
        while self.dirty and len(encoded) < room and size < protocol.FRAME_BYTES:
            key = next(iter(self.dirty))
            del self.dirty[key]
            if self._initial is not None:
                self._initial.discard(key)
            message = self.owner.message_for(self.channel, key, self.inflight)
            if message is not None:
                encoded.append(protocol.encode_one(message))
                size += len(encoded[-1])
        if self._initial is not None and not self._initial:
            self._initial = None
            encoded.append(protocol.encode_one({"t": protocol.SYNCED}))
        return protocol.join_frame(encoded) if encoded else None

    # -- upstream ----------------------------------------------------------------------------------------

    def on_message(self, data: bytes | str) -> None:
        self.owner.on_frame(self, data)

    def queue_up(self, ups: list[dict[str, Any]]) -> None:
        """Queues one frame's upstream messages; frames are written one after the other, in arrival order."""
        if self._ups is None:
            self._ups = deque()
        self._ups.append(ups)
        if len(self._ups) > UP_BACKLOG:
            self.conn.pause_reading()  # the edge waits on TCP until the store catches up
        if self._up_task is None:
            self._up_task = asyncio.get_running_loop().create_task(self._write_ups())
            self.owner.writing(self._up_task)

    async def _write_ups(self) -> None:
        try:
            while self._ups and not self.closed:
                ups = self._ups.popleft()
                if len(self._ups) == UP_BACKLOG // 2:
                    self.conn.resume_reading()
                await self.owner.write_up(self, ups)
        finally:
            self._up_task = None
            self._ups = None

    # -- ending ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """The connection is over: nothing more is sent; frames of the edge already being written finish."""
        self.closed = True
        if self._sender is not None:
            self._sender.cancel()
        if self._mux is not None:
            self._mux.closed = True
