"""The edge's end of the hub: one outbound mTLS WebSocket to the cloud, kept open across network trouble.

Downstream messages are applied to the metastore in one transaction per frame and acknowledged after that
commit. Upstream, the outbox (in the metastore) is sent in sequence order, a bounded window at a time; an
entry is dropped only when the cloud acknowledged its sequence number, so whatever was not confirmed
before a disconnect goes again after the reconnect. Reconnects back off exponentially (0.5 s doubling to
30 s) with jitter, so a thousand nodes that lost the cloud together do not return in one wave; while the
cloud is out of reach, cheap probes cut a long wait short once it answers again (``netprobe.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

from edgeplane.cloudhub import mux, protocol
from edgeplane.edge import netprobe
from edgeplane.edge.metastore import Change, MetaStore, OutboxEntry, split_key
from edgeplane.edge.wire import websocket
from edgeplane.edge.wire.errors import WireError

log = logging.getLogger(__name__)

UP_WINDOW = 256  # unacknowledged upstream messages
RETRY_DELAY = 1.0  # seconds before an upstream message the cloud could not write yet is sent again


class Backoff:
    """Exponential backoff with equal jitter: the n-th delay is uniform in [d/2, d], d = min(cap, base*2^n)."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = random.random) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base, self.cap, self.rng = base, cap, rng
        self.attempts = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * (2 ** min(self.attempts, 32)))
        self.attempts += 1
        return delay / 2 + self.rng() * delay / 2

    def reset(self) -> None:
        self.attempts = 0


def hub_url(server: str) -> str:
    server = server.rstrip("/")
    if server.startswith("https://"):
        return "wss://" + server[len("https://"):] + protocol.HUB_PATH
    if server.startswith("wss://"):
        return server + protocol.HUB_PATH
    raise ValueError(f"server URL {server!r} must start with https://")


class HubClient:
    def __init__(self, metastore: MetaStore, server: str, ssl_context: Callable[[], ssl.SSLContext], *,
                 heartbeat: float = 15.0, lease_interval: float = 10.0, backoff: Backoff | None = None,
                 connect_timeout: float | None = None, streams: mux.OnOpen | None = None) -> None:
        self.metastore = metastore
        self.streams = streams  # serves the streams (logs, exec...) the cloud opens
        self.url = hub_url(server)
        self.ssl_context = ssl_context
        self.heartbeat = heartbeat
        self.lease_interval = lease_interval
        self.backoff = backoff or Backoff()
        # A handshake into a dead link hangs rather than fails: give up on it about as fast as on a silent peer.
        self.connect_timeout = connect_timeout or min(10.0, max(2.0, 2 * heartbeat))
        self.connected = asyncio.Event()
        self.synced = asyncio.Event()  # set once per connection, when the cloud has sent what differed
        self.connections = 0
        self.last_error = ""
        self.close_code: int | None = None  # how the last connection ended (WebSocket close code)
        self._ws: websocket.WebSocket | None = None
        self._inflight: dict[int, OutboxEntry] = {}
        self._pump_wake = asyncio.Event()
        self._queued = metastore.outbox_waiter()
        self._rewind = False

    async def run(self) -> None:
        """Connects and serves until cancelled, reconnecting after every failure."""
        host, port = netprobe.endpoint(self.url)
        while True:
            out_of_reach = False
            try:
                await self._connect_and_serve()
                out_of_reach = netprobe.lost(self.close_code)
            except asyncio.CancelledError:
                raise
            except (WireError, OSError, TimeoutError, protocol.ProtocolError, ssl.SSLError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                out_of_reach = netprobe.out_of_reach(exc)
                log.debug("hub connection failed: %s", self.last_error)
            finally:
                self.connected.clear()
                self.synced.clear()
                self._ws = None
            delay = self.backoff.next()
            log.info("hub: disconnected (%s); reconnecting in %.1fs%s", self.last_error or "closed", delay,
                     " or as soon as the cloud answers" if out_of_reach and delay > netprobe.PROBE_EVERY else "")
            if await netprobe.wait_to_retry(delay, host, port, probe=out_of_reach) == "answered":
                log.info("hub: the cloud answers again; reconnecting now")

    async def disconnect(self) -> None:
        """Drops the current connection (the run loop reconnects), e.g. after a certificate rotation."""
        if self._ws is not None:
            await self._ws.close()

    async def _connect_and_serve(self) -> None:
        context = self.ssl_context()
        context.set_alpn_protocols([protocol.HUB_ALPN])  # the cloud's API port routes hub connections by it
        async with asyncio.timeout(self.connect_timeout):
            ws = await websocket.connect(self.url, ssl_context=context, heartbeat=self.heartbeat,
                                         max_size=protocol.MAX_FRAME, close_timeout=5.0)
        self._ws = ws
        streams = mux.Mux(ws.send_bytes, self.streams or _refuse_streams)
        try:
            await ws.send_bytes(protocol.encode([{"t": protocol.HELLO, "v": protocol.PROTOCOL_VERSION,
                                                  "inventory": self.metastore.inventory()}]))
            self.connections += 1
            self.last_error = ""
            self.connected.set()
            self.backoff.reset()
            log.info("hub: connected to %s", self.url)
            self._inflight.clear()
            tasks = [asyncio.create_task(self._pump(ws)), asyncio.create_task(self._lease_ticker())]
            try:
                await self._read(ws, streams)
            finally:
                await streams.close_all("the edge's connection to the cloud closed")
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                        await task
            self.close_code = ws.close_code
            if ws.close_code not in (None, 1000):
                self.last_error = f"closed by the cloud with code {ws.close_code}"
        finally:
            await ws.close()

    async def _read(self, ws: websocket.WebSocket, streams: mux.Mux) -> None:
        ms = self.metastore
        async for frame in ws:
            if mux.is_data_frame(frame):
                streams.on_data(frame)  # type: ignore[arg-type]
                continue
            changes: list[Change] = []
            for message in protocol.decode(frame):
                kind = message["t"]
                if kind in mux.STREAM_MESSAGES:
                    streams.on_message(message)
                elif kind in (protocol.OBJ, protocol.DEL):
                    resource, namespace, name = split_key(message["key"])
                    obj = message.get("obj") if kind == protocol.OBJ else None
                    changes.append(Change(resource, namespace, name, int(message["rv"]), obj))
                elif kind == protocol.UPACK:
                    self._on_upack(message)
                elif kind == protocol.SYNCED:
                    self.synced.set()
                else:
                    log.warning("hub: ignoring unknown message type %r", kind)
            if changes:
                ms.apply(changes)  # committed before the ack goes out
                acks = [[c.key, c.rv, int(c.obj is None)] for c in changes]
                await ws.send_bytes(protocol.encode([{"t": protocol.ACK, "acks": acks}]))

    def _on_upack(self, message: dict[str, Any]) -> None:
        ms = self.metastore
        done: list[int] = list(message.get("ok") or [])
        for seq, reason in (message.get("failed") or {}).items():
            entry = self._inflight.get(int(seq))
            log.warning("hub: the cloud refused %s: %s", entry.key if entry else seq, reason)
            done.append(int(seq))
        ms.ack_outbox(done)
        for seq in message.get("ok") or ():
            entry = self._inflight.get(seq)
            if entry is not None and entry.kind == "podDeleted":
                body = entry.body
                ms.remove("pods", body["namespace"], body["name"], body["uid"])
        for seq in done:
            self._inflight.pop(seq, None)
        retry = [int(s) for s in message.get("retry") or ()]
        if retry:
            for seq in retry:
                self._inflight.pop(seq, None)
            asyncio.get_running_loop().call_later(RETRY_DELAY, self._schedule_rewind)
        self._pump_wake.set()

    def _schedule_rewind(self) -> None:
        self._rewind = True
        self._pump_wake.set()

    async def _pump(self, ws: websocket.WebSocket) -> None:
        """Sends the outbox in sequence order, at most UP_WINDOW unacknowledged entries at once."""
        ms = self.metastore
        queued = self._queued
        cursor = 0
        while True:
            queued.clear()
            self._pump_wake.clear()
            if self._rewind:
                self._rewind, cursor = False, 0
            room = min(UP_WINDOW - len(self._inflight), protocol.BATCH)
            entries: list[OutboxEntry] = []
            if room > 0:
                unsent = (e for e in ms.outbox(cursor, room + len(self._inflight)) if e.seq not in self._inflight)
                entries = [e for e, _ in zip(unsent, range(room), strict=False)]
            if entries:
                for entry in entries:
                    self._inflight[entry.seq] = entry
                cursor = entries[-1].seq
                await ws.send_bytes(protocol.encode([
                    {"t": protocol.UP, "seq": e.seq, "kind": e.kind, "body": e.body} for e in entries
                ]))
                continue
            waits = [asyncio.ensure_future(queued.wait()), asyncio.ensure_future(self._pump_wake.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def _lease_ticker(self) -> None:
        while True:
            self.metastore.report_lease()
            await asyncio.sleep(self.lease_interval)


async def _refuse_streams(stream: mux.Stream) -> None:
    await stream.close(mux.status(501, "NotImplemented", "this edge node does not serve logs, exec or port-forward"))
