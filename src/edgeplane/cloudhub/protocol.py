"""The cloud-edge hub protocol's wire format, shared by the cloud hub and the edge hub client.

Every WebSocket frame is binary: a JSON array (orjson) of messages, each a JSON object with a ``t`` field.
Batching several messages into one frame keeps TLS records and system calls few when much changes at
once. The full description is in docs/cloud-edge-protocol.md.
"""

from __future__ import annotations

from typing import Any

import orjson

HUB_PATH = "/edgeplane/v1/hub"
HUB_ALPN = "edgeplane-hub/1"  # the TLS ALPN protocol of hub connections, which the cloud routes to its lean TLS
PROTOCOL_VERSION = 1

# edge -> cloud
HELLO = "hello"  # {"v": 1, "inventory": {"pods/ns/name": rv, ...}}
ACK = "ack"  # {"acks": [[key, rv, deleted], ...]}: downstream changes committed to the metastore
UP = "up"  # {"seq": n, "kind": "status|event|lease|register|podDeleted", "body": {...}}
# cloud -> edge
OBJ = "obj"  # {"key": "pods/ns/name", "rv": n, "obj": {...}}
DEL = "del"  # {"key": "pods/ns/name", "rv": n}: the node should not hold this object (any version <= rv)
SYNCED = "synced"  # {}: everything that differed at hello has been sent
UPACK = "upack"  # {"ok": [seq...], "retry": [seq...], "failed": {seq: message}}

MAX_FRAME = 16 * 1024 * 1024  # what a receiver accepts
FRAME_BYTES = 1024 * 1024  # a sender closes a frame once it holds this much (one object may add 3 MiB)
BATCH = 256  # messages per frame at most


class ProtocolError(ValueError):
    """A frame or message that does not follow the protocol; the connection is closed with its text."""


def encode(messages: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(messages)


def encode_one(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def join_frame(encoded: list[bytes]) -> bytes:
    """A frame from messages encoded one by one (so a sender can bound a frame's size as it fills it)."""
    return b"[" + b",".join(encoded) + b"]"


def decode(frame: bytes | str) -> list[dict[str, Any]]:
    try:
        messages = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("t"), str)
                                                  for m in messages):
        raise ProtocolError('a frame must be a JSON array of objects, each with a string "t"')
    return messages
