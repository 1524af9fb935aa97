"""The cloud hub: the WebSocket endpoint every edge node keeps open, on the API port.

An edge connection offers the TLS ALPN protocol ``edgeplane-hub/1``; the API port's listener
(``listener.py``) hands such connections to the hub's own lean WebSocket connections (``wsconn.py``), not
to the HTTP server, so an idle node costs the cloud a few kilobytes. The hub authenticates the upgrade
request exactly as the API server authenticates requests, and serves node identities only.

Downstream, one watch-cache sink per needed resource feeds one index of what each node needs
(``needs.py``); a change marks the keys of the nodes it concerns on their sessions, which send the latest
version when the key's turn comes (``session.py``). Nothing polls per node. Upstream messages are written
through the API storage under the node's identity (``upstream.py``) and acknowledged by sequence number.

The hub keeps, per node, the versions the edge acknowledged; they survive reconnects. A hello carries the
edge's inventory, which is the truth about what it holds (and rebuilds the table after a cloud restart):
the hub sends every object whose latest version differs and a deletion for every key the node should no
longer hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from aiohttp import web

from edgeplane.api import errors
from edgeplane.apiserver.auth import Authenticator, Authorizer, node_name
from edgeplane.apiserver.cacher import CacheEvent, Cacher
from edgeplane.apiserver.context import APIContext
from edgeplane.cloudhub import mux, protocol
from edgeplane.cloudhub.needs import NEED_RULES, NeedIndex, NeedRule, object_key
from edgeplane.cloudhub.session import NodeChannel, Session
from edgeplane.cloudhub.tlsmemory import share_tls_read_buffers
from edgeplane.cloudhub.upstream import UpstreamError, UpstreamWriter
from edgeplane.cloudhub.wsconn import GOING_AWAY, Refused, WebSocketConnection

log = logging.getLogger(__name__)

HEARTBEAT = 15.0  # a peer silent this many seconds is pinged, and dropped if still silent half as long again
STOP_GRACE = 2.0  # seconds the hub waits at shutdown for edges to answer its close frames
_REPLACED = 4000  # close code: a newer connection of the same node took over


class _HubSink:
    """A watch-cache sink that hands one resource's events to the hub."""

    def __init__(self, hub: CloudHub, resource: str, start_revision: int) -> None:
        self.hub = hub
        self.resource = resource
        self.start_revision = start_revision

    def deliver(self, events: list[CacheEvent]) -> None:
        self.hub._on_events(self.resource, events)

    def fail(self, status: dict[str, Any]) -> None:
        self.hub._on_cache_reset(self.resource)


class CloudHub:
    # Served by the HTTP server without credentials: its only answer is how to reach the hub (see routes()).
    public_paths = frozenset({protocol.HUB_PATH})

    def __init__(self, ctx: APIContext, authenticator: Authenticator, authorizer: Authorizer | None = None, *,
                 rules: tuple[NeedRule, ...] = NEED_RULES, heartbeat: float = HEARTBEAT) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self.rules = rules
        self.heartbeat = heartbeat
        self.index = NeedIndex(rules)
        self.channels: dict[str, NodeChannel] = {}
        self.upstream = UpstreamWriter(ctx, authorizer or Authorizer())
        self._cachers: dict[str, Cacher] = {}
        self._sinks: dict[str, _HubSink] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.Task[None]] = set()  # sessions' upstream writers, connected or not
        self._connections: set[WebSocketConnection] = set()  # every hub connection, upgraded or not
        self._all_gone = asyncio.Event()

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path, handler) rows for ``APIServer.extra_routes``: the hub's path on the HTTP server only
        answers clients that did not offer the hub's ALPN (served without credentials, see ``public_paths``)."""
        return [("GET", protocol.HUB_PATH, self._without_alpn)]

    async def start(self) -> None:
        share_tls_read_buffers()
        for rule in self.rules:
            await self._subscribe(rule)

    async def _subscribe(self, rule: NeedRule) -> None:
        group, _, version = rule.api_version.rpartition("/")
        rt = self.ctx.resource(group, version, rule.resource)
        cacher = await self.ctx.cacher(rt)
        await cacher.ready()
        self._cachers[rule.resource] = cacher
        for obj in list(cacher.objects.values()):
            self._apply(rule.resource, obj, deleted=False)
        sink = _HubSink(self, rule.resource, cacher.revision)
        self._sinks[rule.resource] = sink
        cacher.add(sink)

    async def stop(self) -> None:
        for resource, sink in self._sinks.items():
            self._cachers[resource].remove(sink)
        conns = list(self._connections)
        sessions = [conn.receiver for conn in conns if isinstance(conn.receiver, Session)]
        for session in sessions:
            session.close()
        for conn in conns:
            conn.close(GOING_AWAY, "cloud shutting down")
        if self._connections:
            self._all_gone.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), STOP_GRACE)
        if self._writers:  # what the edges sent before the end is written before the store closes
            await asyncio.wait(list(self._writers), timeout=STOP_GRACE)
        for task in list(self._tasks):
            task.cancel()

    # -- what the nodes need ---------------------------------------------------------------------

    def _on_events(self, resource: str, events: list[CacheEvent]) -> None:
        for ev in events:
            self._apply(resource, ev.obj, deleted=ev.type == "DELETED")

    def _apply(self, resource: str, obj: dict[str, Any], deleted: bool) -> None:
        m = obj["metadata"]
        key = object_key(resource, m.get("namespace", ""), m["name"])
        channels = self.channels
        for node, touched in self.index.update(resource, key, None if deleted else obj):
            channel = channels.get(node)
            if channel is not None and channel.session is not None:
                channel.session.mark(touched)

    def _on_cache_reset(self, resource: str) -> None:
        """The watch cache restarted (and dropped its sinks): subscribe again and resend what differs."""
        async def resubscribe() -> None:
            rule = next(r for r in self.rules if r.resource == resource)
            self._sinks.pop(resource, None)
            await asyncio.sleep(1.0)
            await self._subscribe(rule)
            for channel in self.channels.values():
                if channel.session is not None:
                    for key in self.index.keys_of(channel.name) | set(channel.acked):
                        channel.session.mark(key)

        self._spawn(resubscribe())

    def current(self, key: str) -> dict[str, Any] | None:
        resource, namespace, name = key.split("/", 2)
        cacher = self._cachers.get(resource)
        if cacher is None:
            return None
        return cacher.objects.get(f"{cacher.prefix}{namespace}/{name}" if cacher.namespaced
                                  else f"{cacher.prefix}{name}")

    def message_for(self, channel: NodeChannel, key: str,
                     inflight: dict[str, tuple[int, bool]]) -> dict[str, Any] | None:
        """The message that brings the edge's copy of ``key`` to what the node should hold now, if any."""
        obj = self.current(key) if self.index.needs(channel.name, key) else None
        pending = inflight.get(key)
        if obj is not None:
            rv = int(obj["metadata"]["resourceVersion"])
            have = pending[0] if pending is not None and not pending[1] else (
                None if pending is not None else channel.acked.get(key))
            if have == rv:
                return None
            inflight[key] = (rv, False)
            return {"t": protocol.OBJ, "key": key, "rv": rv, "obj": obj}
        if (pending is None and key not in channel.acked) or (pending is not None and pending[1]):
            return None  # the edge does not hold it, or its deletion is on the way
        cacher = self._cachers.get(key.split("/", 1)[0])
        rv = cacher.revision if cacher is not None else 0
        inflight[key] = (rv, True)
        return {"t": protocol.DEL, "key": key, "rv": rv}

    # -- connections -----------------------------------------------------------------------------

    def protocol(self) -> WebSocketConnection:
        """A protocol for one connection that offered the hub's ALPN (the listener's factory)."""
        conn = WebSocketConnection(self, protocol.HUB_PATH, heartbeat=self.heartbeat, max_size=protocol.MAX_FRAME)
        self._connections.add(conn)
        return conn

    def upgrade(self, conn: WebSocketConnection, authorization: str | None) -> Session:
        """Authenticates an upgrade request as the API server does, and opens the node's session."""
        user = self.authenticator.authenticate(conn.peercert(), authorization)
        conn.forget_peercert()  # identities are fixed for a connection's life; the DER is not needed again
        if user is None:
            raise Refused(401, orjson.dumps(errors.unauthorized().status()), "application/json")
        node = node_name(user)
        if node is None:
            raise Refused(403, f"the edge hub serves node identities (system:node:<name> in group system:nodes); "
                               f"{user.name} is not one\n")
        channel = self.channels.get(node)
        if channel is None:
            channel = self.channels[node] = NodeChannel(node)
        previous = channel.session
        session = Session(channel, conn, self, user)
        channel.session = session
        channel.offline_since = None
        if previous is not None:
            previous.close()
            previous.conn.close(_REPLACED, "replaced by a newer connection of this node")
        log.info("hub: node %s connected", node)
        return session

    def gone(self, conn: WebSocketConnection) -> None:
        self._connections.discard(conn)
        if not self._connections:
            self._all_gone.set()
        session = conn.receiver
        if not isinstance(session, Session):
            return  # never upgraded
        session.close()
        channel = session.channel
        if channel.session is session:
            channel.session = None
            channel.offline_since = time.time()
        if session.has_streams:
            self._spawn(session.mux.close_all(f'the connection of node "{channel.name}" to the cloud closed'))
        log.info("hub: node %s disconnected (%s)", channel.name, conn.close_code)

    def on_frame(self, session: Session, frame: bytes | str) -> None:
        if session.closed:
            return
        try:
            self._on_frame(session, frame)
        except protocol.ProtocolError as exc:
            log.warning("hub: node %s broke the protocol: %s", session.channel.name, exc)
            session.close()
            session.conn.close(1002, str(exc)[:120])

    def _on_frame(self, session: Session, frame: bytes | str) -> None:
        if mux.is_data_frame(frame):
            session.mux.on_data(frame)  # type: ignore[arg-type]
            return
        ups: list[dict[str, Any]] = []
        for message in protocol.decode(frame):
            kind = message["t"]
            if kind in mux.STREAM_MESSAGES:
                session.mux.on_message(message)
            elif kind == protocol.HELLO:
                self._hello(session, message)
                session.hello_seen = True
            elif not session.hello_seen:
                raise protocol.ProtocolError(f'the first message must be "hello", not {kind!r}')
            elif kind == protocol.ACK:
                acks = message.get("acks")
                if not isinstance(acks, list) or not all(
                        isinstance(a, list) and len(a) == 3 and isinstance(a[0], str) and isinstance(a[1], int)
                        for a in acks):
                    raise protocol.ProtocolError('"ack" needs a list "acks" of [key, rv, deleted]')
                session.on_acks(acks)
            elif kind == protocol.UP:
                ups.append(message)
            else:
                raise protocol.ProtocolError(f"unknown message type {kind!r}")
        if ups:
            session.queue_up(ups)

    async def _without_alpn(self, request: web.Request) -> web.StreamResponse:
        """An edge agent too old to offer the hub's ALPN reached the HTTP server: tell it what to do."""
        return web.Response(status=426, headers={"Upgrade": "websocket"},
                            text=f"the edge hub at {protocol.HUB_PATH} is reached by offering the TLS ALPN protocol "
                                 f'"{protocol.HUB_ALPN}" on this port; this client did not (upgrade the edge '
                                 "agent)\n")

    def _hello(self, session: Session, message: dict[str, Any]) -> None:
        inventory = message.get("inventory")
        if not isinstance(inventory, dict) or not all(isinstance(v, int) for v in inventory.values()):
            raise protocol.ProtocolError('"hello" needs an "inventory" object of key -> resourceVersion (int)')
        bad = next((k for k in inventory if k.count("/") != 2 or not k.split("/")[0] or not k.split("/")[2]), None)
        if bad is not None:
            raise protocol.ProtocolError(f'"hello": inventory key {bad[:100]!r} is not resource/namespace/name')
        channel = session.channel
        channel.acked = dict(inventory)  # what the edge holds is the truth, whatever we thought it acked
        session.inflight.clear()
        session.start_sync(self.index.keys_of(channel.name) | set(inventory))

    async def write_up(self, session: Session, ups: list[dict[str, Any]]) -> None:
        """Writes one frame's upstream messages concurrently (the store commits them as one batch), then acks."""
        user, node = session.user, session.channel.name

        async def one(message: dict[str, Any]) -> tuple[Any, UpstreamError | None]:
            try:
                await self.upstream.write(user, node, str(message.get("kind")), message.get("body"))  # type: ignore[arg-type]
                return message.get("seq"), None
            except UpstreamError as exc:
                return message.get("seq"), exc
            except Exception as exc:
                log.exception("hub: upstream %s from %s failed", message.get("kind"), node)
                return message.get("seq"), UpstreamError(f"{type(exc).__name__}: {exc}", retry=True)

        # Registration first: the node's status and Lease in the same frame may need the Node.
        first = [m for m in ups if m.get("kind") == "register"]
        results = [await one(m) for m in first]
        results += await asyncio.gather(*(one(m) for m in ups if m.get("kind") != "register"))
        ack: dict[str, Any] = {"t": protocol.UPACK, "ok": [], "retry": [], "failed": {}}
        for seq, exc in results:
            if exc is None:
                ack["ok"].append(seq)
            elif exc.retry:
                ack["retry"].append(seq)
            else:
                log.warning("hub: dropped upstream message %s from node %s: %s", seq, node, exc)
                ack["failed"][str(seq)] = str(exc)
        if not session.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.send([ack])

    def writing(self, task: asyncio.Task[None]) -> None:
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
