"""Where a URL points, and a TCP (or TLS) stream to it."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

READ_LIMIT = 64 * 1024  # high-water mark of a stream's read buffer
_SECURE = {"https": True, "wss": True, "http": False, "ws": False}


@dataclass(frozen=True, slots=True)
class Endpoint:
    secure: bool
    host: str
    port: int
    target: str  # path and query, as sent in the request line

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """The endpoint of an http(s):// or ws(s):// URL; ValueError saying what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme not in _SECURE:
            raise ValueError(f"URL {url!r} must start with https://, http://, wss:// or ws://")
        if not parts.hostname:
            raise ValueError(f"URL {url!r} names no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"URL {url!r}: {exc}") from None
        secure = _SECURE[parts.scheme]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(secure, parts.hostname, port or (443 if secure else 80), target)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.secure else 80) else f"{host}:{self.port}"


async def open_stream(
    endpoint: Endpoint, ssl_context: ssl.SSLContext | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to ``endpoint``; over TLS (checking the server's name against ``endpoint.host``) if secure."""
    if not endpoint.secure:
        return await asyncio.open_connection(endpoint.host, endpoint.port, limit=READ_LIMIT)
    context = ssl_context if ssl_context is not None else ssl.create_default_context()
    return await asyncio.open_connection(endpoint.host, endpoint.port, ssl=context, server_hostname=endpoint.host,
                                         limit=READ_LIMIT)
