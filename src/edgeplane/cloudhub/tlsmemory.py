"""Keeps idle TLS connections small, so a cloud can hold thousands of edge nodes' connections.

asyncio's SSL transport gives every connection a receive buffer of ``SSLProtocol.max_size`` bytes, 256 KiB,
allocated (and zero-filled) up front and kept for the connection's life: 1,000 idle edge nodes would cost
a quarter of a gigabyte for buffers that hold a 30-byte ping now and then. A TLS record carries at most
16 KiB, so a buffer of two records still reads whole records in one call; bulk transfers only make a few
more (cheap) reads.
"""

from __future__ import annotations

import asyncio.sslproto

TLS_READ_BUFFER = 32 * 1024


def trim_tls_read_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Sets the per-connection TLS receive buffer of this process's asyncio SSL transports (new connections)."""
    if size < 17 * 1024:
        raise ValueError(f"a TLS read buffer of {size} bytes cannot hold a whole TLS record (16 KiB + header)")
    asyncio.sslproto.SSLProtocol.max_size = size
