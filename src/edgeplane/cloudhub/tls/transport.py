"""An asyncio transport for hub connections: OpenSSL does the handshake, then our record layer carries
the connection, so an idle connection costs a few hundred bytes of TLS state.

Use: ``loop.connect_accepted_socket(lambda: LeanTLSProtocol(app_factory, context), sock)``. Once the
handshake is complete, ``app_factory()`` makes the application's protocol, whose ``connection_made``
receives a ``LeanTLSTransport``: it behaves like asyncio's SSL transport (write, close with close_notify,
flow control, ``get_extra_info("peercert")`` as DER like ``getpeercert(binary_form=True)``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from edgeplane.cloudhub.tls.handshake import HandshakeError, LeanTLSContext, ServerHandshake
from edgeplane.cloudhub.tls.records import CLOSE_NOTIFY, SUITES, PeerAlert, RecordError, RecordLayer

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
_NO_EXTRA: dict[str, Any] = {}  # get_extra_info is ours: no dict per connection for asyncio's default


class LeanTLSProtocol(asyncio.Protocol):
    """Sits on the raw socket transport: runs the handshake, then opens and seals records for the app."""

    __slots__ = ("_app", "_app_factory", "_context", "_error", "_handshake", "_raw", "_records", "_timeout",
                 "_timer", "_transport")

    def __init__(self, app_factory: Callable[[], asyncio.Protocol], context: LeanTLSContext, *,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        self._app_factory: Callable[[], asyncio.Protocol] | None = app_factory
        self._context: LeanTLSContext | None = context
        self._timeout = handshake_timeout
        self._raw: asyncio.Transport | None = None
        self._handshake: ServerHandshake | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._records: RecordLayer | None = None
        self._app: asyncio.Protocol | None = None
        self._transport: LeanTLSTransport | None = None
        self._error: Exception | None = None  # why we ended the connection, for the app's connection_lost

    # --- the raw transport's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        assert self._context is not None
        self._raw = transport
        self._handshake = self._context.server_handshake()
        self._context = None
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        if self._records is not None:
            self._open(data)
        elif self._handshake is not None:
            self._continue_handshake(data)

    def eof_received(self) -> bool | None:
        # Like asyncio's SSL transport: the app hears of the end, and the connection closes.
        if self._app is not None:
            self._app.eof_received()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._handshake = None
        self._records = None
        app, self._app = self._app, None
        if app is not None:
            app.connection_lost(exc or self._error)

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    # --- handshake

    def _continue_handshake(self, data: bytes) -> None:
        handshake, raw = self._handshake, self._raw
        assert handshake is not None and raw is not None
        try:
            reply = handshake.feed(data)
        except HandshakeError as exc:
            self._handshake = None
            self._cancel_timer()
            log.warning("TLS handshake with %s failed: %s", _peer(raw), exc)
            if exc.alert:
                raw.write(exc.alert)
            raw.close()
            return
        if reply:
            raw.write(reply)
        result = handshake.result
        if result is None:
            return
        self._handshake = None  # its buffers and OpenSSL's connection go now
        self._cancel_timer()
        self._records = result.record_layer()
        self._transport = LeanTLSTransport(self, result.peer_cert, result.cipher, result.alpn)
        factory, self._app_factory = self._app_factory, None
        assert factory is not None
        self._app = factory()
        self._app.connection_made(self._transport)
        if result.leftover:
            self._open(result.leftover)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._raw is not None and self._handshake is not None:
            log.warning("TLS handshake with %s timed out after %.0f s", _peer(self._raw), self._timeout)
            self._handshake = None
            self._raw.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- established connection

    def _open(self, data: bytes) -> None:
        records, raw = self._records, self._raw
        assert records is not None and raw is not None
        try:
            plaintext, reply = records.open(data)
        except (RecordError, PeerAlert) as exc:
            if exc.received and self._app is not None:
                self._app.data_received(exc.received)
            self._fail(exc, records.alert(exc.alert) if isinstance(exc, RecordError) else b"")
            return
        if reply:
            raw.write(reply)
        if plaintext and self._app is not None:
            self._app.data_received(plaintext)
        if records.closed and self._app is not None and self._transport is not None:
            self._app.eof_received()
            self._transport.close()

    def _fail(self, exc: Exception, alert: bytes) -> None:
        assert self._raw is not None
        log.warning("TLS connection with %s ended: %s", _peer(self._raw), exc)
        self._error = exc if isinstance(exc, ConnectionError) else ConnectionError(f"TLS: {exc}")
        self._records = None
        if alert and not self._raw.is_closing():
            self._raw.write(alert)
        self._raw.close()

    # --- for LeanTLSTransport

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        if self._records is not None and self._raw is not None and data:
            self._raw.write(self._records.seal(data))

    def _close(self) -> None:
        if self._raw is None:
            return
        if self._records is not None and not self._raw.is_closing():
            self._raw.write(self._records.alert(CLOSE_NOTIFY))
        self._records = None  # nothing is sealed after close_notify, nor read
        self._raw.close()

    def _abort(self) -> None:
        if self._raw is not None:
            self._records = None
            self._raw.abort()


class LeanTLSTransport(asyncio.Transport):
    """What the application sees: plaintext in, plaintext out, over a LeanTLSProtocol."""

    __slots__ = ("_alpn", "_cipher", "_closing", "_peercert", "_tls")

    def __init__(self, tls: LeanTLSProtocol, peercert: bytes, cipher: str, alpn: str) -> None:
        super().__init__(_NO_EXTRA)
        self._tls = tls
        self._peercert: bytes | None = peercert
        self._cipher = cipher
        self._alpn = alpn
        self._closing = False

    @property
    def _raw(self) -> asyncio.Transport:
        raw = self._tls._raw
        assert raw is not None
        return raw

    def forget_peercert(self) -> None:
        """Drops the client certificate (half a kilobyte) once the application has authenticated it."""
        self._peercert = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peercert":
            return self._peercert
        if name == "cipher":
            return (self._cipher, "TLSv1.3", SUITES[self._cipher].bits)
        if name == "alpn_protocol":
            return self._alpn
        if name in ("ssl_object", "sslcontext"):
            return None
        return self._raw.get_extra_info(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__}")
        if not self._closing:
            self._tls._write(data)

    def can_write_eof(self) -> bool:
        return False  # as asyncio's SSL transport: close() ends both directions

    def write_eof(self) -> None:
        raise NotImplementedError("a TLS transport cannot half-close: use close()")

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._tls._close()

    def abort(self) -> None:
        self._closing = True
        self._tls._abort()

    def is_closing(self) -> bool:
        return self._closing or self._raw.is_closing()

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._raw.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._tls._app = protocol

    def get_protocol(self) -> Any:  # None once the connection is lost
        return self._tls._app


def _peer(raw: asyncio.BaseTransport) -> str:
    peer = raw.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

