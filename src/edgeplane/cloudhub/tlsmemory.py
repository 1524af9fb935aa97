"""Keeps idle TLS connections small, so a cloud can hold thousands of edge nodes' connections.

asyncio's SSL transport gives every connection its own receive buffer of ``SSLProtocol.max_size`` bytes
(256 KiB), allocated up front and kept for the connection's life: 1,000 idle edge nodes would cost a
quarter of a gigabyte for buffers that hold a 30-byte ping now and then. That buffer only carries
ciphertext from the socket into OpenSSL: the event loop reads into it and, in the same callback,
``buffer_updated`` copies what arrived into the connection's incoming BIO; nothing reads it afterwards.
So all the connections of one thread can share one buffer, and an idle connection costs none while bulk
transfers keep asyncio's full-size reads. One buffer per thread, because a socket read releases the GIL
and event loops in other threads read at the same time.
"""

from __future__ import annotations

import asyncio.sslproto
import threading
from typing import Any

SHARED_READ_BUFFER = 256 * 1024  # asyncio's own per-connection size


class _PerThread(threading.local):
    def __init__(self, size: int) -> None:
        self.view = memoryview(bytearray(size))


def share_tls_read_buffers(size: int = SHARED_READ_BUFFER) -> None:
    """Makes asyncio SSL connections made from now on read through one buffer per thread (idempotent)."""
    if size < 17 * 1024:
        raise ValueError(f"a TLS read buffer of {size} bytes cannot hold a whole TLS record (16 KiB + header)")
    proto: Any = asyncio.sslproto.SSLProtocol
    if getattr(proto, "_edgeplane_shared_buffers", None) is not None:
        return
    for attr in ("get_buffer", "buffer_updated", "max_size"):
        if not hasattr(proto, attr):  # another asyncio implementation: leave it alone
            return
    buffers = _PerThread(size)
    original_init = proto.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._ssl_buffer_view = buffers.view  # the connection's own buffer, just made, is released here
        self._ssl_buffer = buffers.view.obj

    def get_buffer(self: Any, n: int) -> memoryview:
        view = buffers.view
        self._ssl_buffer_view = view  # what buffer_updated copies from: this thread's buffer
        return view

    proto.max_size = size
    proto.__init__ = __init__
    proto.get_buffer = get_buffer
    proto._edgeplane_shared_buffers = buffers
