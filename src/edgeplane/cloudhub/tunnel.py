"""Where a stream to a node goes: the one place that knows which connection serves which node.

Everything that reaches into an edge node (logs, exec, attach, port-forward) asks the tunnel for a stream
and never looks at hub sessions itself, so routing across cloud replicas later changes this module alone.
A node without a connection fails at once with a 503 that names the node and since when it is offline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edgeplane.api import errors
from edgeplane.apiserver.auth import NODE_LEASE_NAMESPACE
from edgeplane.cloudhub.mux import OPEN_TIMEOUT, Stream, StreamClosed

if TYPE_CHECKING:
    from edgeplane.cloudhub.hub import CloudHub


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeOffline(errors.APIError):
    def __init__(self, node: str, since: str | None) -> None:
        if since:
            message = f'node "{node}" is offline since {since}: its connection to the cloud is down'
        else:
            message = f'node "{node}" is offline: it has never connected to the cloud'
        super().__init__(503, "ServiceUnavailable", message)
        self.node = node
        self.since = since


class Tunnel:
    def __init__(self, hub: CloudHub, *, open_timeout: float = OPEN_TIMEOUT) -> None:
        self.hub = hub
        self.open_timeout = open_timeout

    def connected(self, node: str) -> bool:
        channel = self.hub.channels.get(node)
        return channel is not None and channel.session is not None and not channel.session.closed

    async def open(self, node: str, kind: str, params: dict[str, Any]) -> Stream:
        """A stream the node accepted; NodeOffline, or the node's refusal as an APIError."""
        channel = self.hub.channels.get(node)
        session = channel.session if channel is not None else None
        if session is None or session.closed:
            raise NodeOffline(node, await self.offline_since(node))
        try:
            stream = await session.mux.open(kind, params)
        except StreamClosed:
            raise NodeOffline(node, _rfc3339(time.time())) from None
        try:
            await stream.wait_open(self.open_timeout)
        except StreamClosed:
            await stream.close()
            error = stream.error or {}
            if error.get("reason") == "ServiceUnavailable" and not self.connected(node):
                raise NodeOffline(node, await self.offline_since(node)) from None
            raise errors.APIError(int(error.get("code") or 500), str(error.get("reason") or "InternalError"),
                                  str(error.get("message") or f"node {node} refused the {kind} stream")) from None
        except TimeoutError:
            await stream.close()
            raise errors.APIError(504, "Timeout", f'node "{node}" did not answer a {kind} request within '
                                                  f"{self.open_timeout:g}s: its connection may be failing") from None
        return stream

    async def offline_since(self, node: str) -> str | None:
        """When the node's connection ended; the Lease's last renewal if this process never saw it connected."""
        channel = self.hub.channels.get(node)
        if channel is not None and channel.offline_since is not None:
            return _rfc3339(channel.offline_since)
        try:
            storage = self.hub.ctx.storage(self.hub.ctx.resource("coordination.k8s.io", "v1", "leases"))
            lease = await storage.get(NODE_LEASE_NAMESPACE, node)
        except errors.APIError:
            return None
        renewed = (lease.get("spec") or {}).get("renewTime")
        return str(renewed).split(".")[0].rstrip("Z") + "Z" if renewed else None
