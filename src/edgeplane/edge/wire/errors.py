"""What goes wrong on the wire when the peer answered, and the words of an HTTP error body."""

from __future__ import annotations

import orjson


class WireError(Exception):
    """The peer answered, but not as HTTP or WebSocket allow (or with more than we accept)."""


class HandshakeRefused(WireError):
    """The server answered a WebSocket upgrade with something other than 101 Switching Protocols."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        super().__init__(f"the server refused the WebSocket upgrade with HTTP {status}: {body_message(status, body)}")


def body_message(status: int, body: bytes, reason: str = "") -> str:
    """What an HTTP error body says: a Kubernetes Status' message, else the start of its text."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status" and doc.get("message"):
        return str(doc["message"])
    text = body.decode("utf-8", "replace").strip()[:500]
    return text or f"HTTP {status} {reason}".strip()
