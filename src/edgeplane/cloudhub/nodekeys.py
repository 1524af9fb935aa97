"""Which key holds which node name: one Secret per node, ``kube-system/<node>.node-key.edgeplane``.

The record is written when a node joins (and follows it through certificate rotation). A join for a name
whose Node exists and whose record names another key is refused, so a second machine cannot take over a
node by knowing a bootstrap token. Deleting the Node (``kubectl delete node``) frees the name; the record
is replaced by the next join. Kept apart from the Node object because the Node is registered later, by
the agent, and an annotation there could be edited by anyone who may write Nodes.
"""

from __future__ import annotations

import base64
from typing import Any

from edgeplane.api import errors
from edgeplane.client.interface import Client

RECORD_NAMESPACE = "kube-system"
RECORD_TYPE = "edgeplane.io/node-key"
RECORD_SUFFIX = ".node-key.edgeplane"
# The record's name must stay a valid Secret name (253 characters at most).
MAX_NODE_NAME = 253 - len(RECORD_SUFFIX)
KEY_FIELD = "key-sha256"


class NameHeldError(Exception):
    """The node name is held by another key."""


def record_name(node_name: str) -> str:
    return node_name + RECORD_SUFFIX


class NodeKeyRecords:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def recorded_key(self, node_name: str) -> str | None:
        record = await self._get(node_name)
        return _key_of(record) if record else None

    async def claim(self, node_name: str, key_sha256: str) -> None:
        """Record ``key_sha256`` as the holder of ``node_name``; NameHeldError if another key holds it.

        Another key holds a name while its Node exists. Compare-and-swap on the record's resourceVersion
        settles two machines joining under one name at once: the loser sees the winner's key.
        """
        for _ in range(3):
            record = await self._get(node_name)
            if record is None:
                try:
                    await self.client.create("v1", "secrets", _record(node_name, key_sha256), RECORD_NAMESPACE)
                    return
                except errors.APIError as exc:
                    if exc.code == 409:
                        continue  # someone recorded it just now: check their key
                    raise
            holder = _key_of(record)
            if holder == key_sha256:
                return
            if await self._node_exists(node_name):
                raise NameHeldError(
                    f'node name "{node_name}" is held by another key (sha256:{holder[:16]}...): '
                    f"a different machine joined under this name. Pick another --node-name, or free the name "
                    f"with `kubectl delete node {node_name}` if that machine is gone"
                )
            body = _record(node_name, key_sha256)
            body["metadata"]["resourceVersion"] = record["metadata"]["resourceVersion"]
            try:
                await self.client.update("v1", "secrets", body, RECORD_NAMESPACE)
                return
            except errors.APIError as exc:
                if exc.code != 409:
                    raise
        raise NameHeldError(f'node name "{node_name}" is being claimed by another join at this moment')

    async def _get(self, node_name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get("v1", "secrets", record_name(node_name), RECORD_NAMESPACE)
        except errors.APIError as exc:
            if exc.code == 404:
                return None
            raise

    async def _node_exists(self, node_name: str) -> bool:
        try:
            await self.client.get("v1", "nodes", node_name)
        except errors.APIError as exc:
            if exc.code == 404:
                return False
            raise
        return True


def _record(node_name: str, key_sha256: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": record_name(node_name), "namespace": RECORD_NAMESPACE},
        "type": RECORD_TYPE,
        "data": {KEY_FIELD: base64.b64encode(key_sha256.encode()).decode("ascii")},
    }


def _key_of(record: dict[str, Any]) -> str:
    raw = (record.get("data") or {}).get(KEY_FIELD, "")
    try:
        return base64.b64decode(raw).decode("ascii")
    except ValueError:
        return ""  # an unreadable record holds nothing
