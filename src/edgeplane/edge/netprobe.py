"""Noticing the cloud's return while the hub client backs off.

After a long outage the reconnect backoff reaches 30 s, so an edge could wait half a minute after the
network came back before it even tried. Instead, once the wait is long, the edge probes every few seconds,
which costs the cloud next to nothing: a plain TCP connection and a few bytes that are not TLS. A TLS
server answers them at once (with an alert, or by closing the connection), which proves the path to it
works, and the edge connects at once. A refused, reset or silent connection (the link is down, a NAT or
firewall drops everything, a proxy in front of the cloud has nowhere to send it) means keep waiting. Probing follows only failures that say the cloud was out of reach: when the cloud answered and
refused (a TLS or HTTP error), the edge waits out its full backoff, as it should.

The probes of many nodes spread over the probe interval (each is drawn from its upper half), so a
thousand nodes returning together still arrive over seconds, not in one wave.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Callable

from edgeplane.edge.wire.endpoint import Endpoint
from edgeplane.edge.wire.errors import WireError

PROBE_EVERY = 3.0  # seconds between probes (each drawn from [PROBE_EVERY/2, PROBE_EVERY])
PROBE_TIMEOUT = 2.0  # a probe that gets no answer within this long found the path down
_NOT_TLS = b"PROBE\r\n\r\n"  # an invalid TLS record: a TLS server answers it at once with an alert or a close


def out_of_reach(exc: BaseException) -> bool:
    """True if a failed connection attempt says the cloud could not be reached (rather than refused us)."""
    if isinstance(exc, ssl.SSLError | WireError):
        return False  # the cloud (or something in its place) answered: refused the upgrade, or spoke nonsense
    return isinstance(exc, OSError | TimeoutError)


def endpoint(url: str) -> tuple[str, int]:
    """(host, port) of a wss:// or https:// URL."""
    where = Endpoint.parse(url)
    return where.host, where.port


async def answers(host: str, port: int, patience: float = PROBE_TIMEOUT) -> bool:
    """True if something answers at host:port within ``patience`` seconds (bytes or an orderly close)."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(patience):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(_NOT_TLS)
            await reader.read(1)  # b"" (closed) counts too: the peer acted on our bytes
        return True
    except (OSError, TimeoutError):  # refused, reset, unreachable, or no answer in time
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def wait_to_retry(delay: float, host: str, port: int, *, probe: bool, every: float = PROBE_EVERY,
                        rng: Callable[[], float] = random.random) -> str:
    """Waits ``delay`` seconds before the next connection attempt, or less if probing finds the cloud back.

    Returns "elapsed" or "answered" (for logs and tests).
    """
    deadline = time.monotonic() + delay
    if not probe or delay <= every:
        await asyncio.sleep(delay)
        return "elapsed"
    while True:
        left = deadline - time.monotonic()
        pause = every / 2 + rng() * every / 2
        if left <= pause:
            await asyncio.sleep(max(0.0, left))
            return "elapsed"
        await asyncio.sleep(pause)
        if await answers(host, port, min(PROBE_TIMEOUT, every)):
            return "answered"


def lost(close_code: int | None) -> bool:
    """True if a hub connection that ended with ``close_code`` was lost (the network, or the cloud going
    away) rather than closed on purpose (replaced by a newer connection, a protocol error, our own close)."""
    return close_code in (None, 1001, 1006)  # no close frame, going away, abnormal closure
